-- deliveries (service, id) duplicated the gate's (service, source, received_at) for every
-- lookup that matters; each service-keyed index costs a page write per service per group
-- commit. Listing a service's deliveries uses the other index.
DROP INDEX IF EXISTS deliveries_service;
