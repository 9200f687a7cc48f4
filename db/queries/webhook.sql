-- name: WebhookDeliveryInsert :one
INSERT INTO webhook_deliveries (delivery_id, event) VALUES ($1, $2)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id;

-- name: WebhookDeliverySetJob :execrows
UPDATE webhook_deliveries SET job_id = $2 WHERE delivery_id = $1;

-- name: WebhookDeliveryJob :one
SELECT job_id FROM webhook_deliveries WHERE delivery_id = $1;
