-- Nothing reads deliveries by received_at alone (lists go by id, the gate by service and
-- source); the index only cost one more b-tree insert per delivery on the ingest path.
DROP INDEX IF EXISTS deliveries_received;
