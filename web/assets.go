package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

//go:embed static
var staticFS embed.FS

// staticPrefix is the URL path static files are served under. go-echarts' AssetsHost points
// here, never at a CDN.
const staticPrefix = "/static/"

// asset is one embedded static file under its content-hashed name.
type asset struct {
	name  string // hashed name, e.g. "echarts.min.3f2a9c1d.js"
	ctype string
	body  []byte
	gz    []byte // body gzip-compressed once at start (nil when that does not make it smaller)
}

// assets maps logical names ("echarts.min.js") to hashed URLs and serves the files. A hashed
// URL changes whenever the content does, so responses carry a one-year immutable cache.
type assets struct {
	byLogical map[string]*asset
	byHashed  map[string]*asset
}

// loadAssets returns the embedded static files, read, hashed and compressed once per process
// (they are compiled in, and compressing echarts costs ~0.15 s): every Server shares them.
var loadAssets = sync.OnceValues(readAssets)

// readAssets reads every embedded static file and names it by its SHA-256 prefix.
func readAssets() (*assets, error) {
	a := &assets{byLogical: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		logical := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		ext := path.Ext(logical)
		hashed := strings.TrimSuffix(logical, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		x := &asset{name: hashed, ctype: ct, body: body}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("compressing %s: %w", p, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compressing %s: %w", p, err)
		}
		if buf.Len() < len(body) {
			x.gz = buf.Bytes()
		}
		a.byLogical[logical] = x
		a.byHashed[hashed] = x
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading static assets: %w", err)
	}
	return a, nil
}

// URL returns the cache-busting URL of a logical asset name. It panics on an unknown name:
// templates are executed in a test for every page, so a typo never reaches production.
func (a *assets) URL(logical string) string {
	x, ok := a.byLogical[logical]
	if !ok {
		panic(fmt.Sprintf("web: unknown static asset %q", logical))
	}
	return staticPrefix + x.name
}

// serve answers GET /static/:name. Hashed names are cached for a year; logical names (for
// tools that cannot know the hash) are served with revalidation.
func (a *assets) serve(c echo.Context) error {
	name := c.Param("name")
	h := c.Response().Header()
	x, ok := a.byHashed[name]
	if ok {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else if x, ok = a.byLogical[name]; ok {
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", `"`+x.name+`"`)
		if c.Request().Header.Get("If-None-Match") == `"`+x.name+`"` {
			return c.NoContent(http.StatusNotModified)
		}
	} else {
		return errorf(http.StatusNotFound, "no static file %q", name)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if x.gz != nil && acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(http.StatusOK, x.ctype, x.gz)
	}
	return c.Blob(http.StatusOK, x.ctype, x.body)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (not with q=0).
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") || strings.TrimSpace(enc) == "*" {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
