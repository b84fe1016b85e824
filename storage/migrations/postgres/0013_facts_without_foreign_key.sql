-- A fact row is only ever written by the statement that writes its delivery (the
-- insertDeliveryPGSQL CTE, or copy.go's ordered copy), and neither rows are ever deleted, so
-- the foreign key proves nothing the writer does not already guarantee. It cost, per fact, a
-- trigger that locks the delivery row FOR KEY SHARE: a heap lock, its WAL record and a dirtied
-- page in the hottest statement of the ingest path.
ALTER TABLE facts DROP CONSTRAINT IF EXISTS facts_delivery_fkey;
