-- The trend of the latest score, as JSON, so the services list needs no scorecard decode.
ALTER TABLE scores ADD COLUMN trend TEXT NOT NULL DEFAULT 'null';
