package web

import (
	"context"
	"fmt"

	"github.com/benchd/benchd/db"
)

// openAlerts counts active alerts for the benchd_alerts_open gauge.
//
// Note: the Store has no count query yet, so this lists at most 1000 active alerts; the gauge
// saturates at 1000. A Store.CountAlerts would lift that.
type openAlerts struct{ store *db.Store }

func (o openAlerts) AlertsOpenCount(ctx context.Context) (int64, error) {
	as, err := o.store.ListAlerts(ctx, db.AlertFilter{Status: db.AlertActive, Limit: 1000})
	if err != nil {
		return 0, fmt.Errorf("counting open alerts: %w", err)
	}
	return int64(len(as)), nil
}
