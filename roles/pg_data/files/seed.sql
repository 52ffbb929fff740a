-- Typed test data: every value must survive pg_dump -> Velero -> psql unchanged.
CREATE SEQUENCE appsnap_ticket_seq START 1000 INCREMENT 7;
CREATE TABLE appsnap_types (
    id          integer PRIMARY KEY DEFAULT nextval('appsnap_ticket_seq'),
    label       text,
    payload     bytea,
    doc         json,
    doc_b       jsonb,
    amount      numeric(30, 10),
    seen_at     timestamptz,
    local_at    timestamp,
    flag        boolean
);
INSERT INTO appsnap_types (label, payload, doc, doc_b, amount, seen_at, local_at, flag)
SELECT
    CASE WHEN g % 5 = 0 THEN NULL ELSE format('row %s: Zürich, 東京, Ελλάδα, emoji 🐘, quote '' and tab	end', g) END,
    CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(g::text) || '00ff', 'hex') END,
    json_build_object('n', g, 'nested', json_build_array(g, 'x', NULL)),
    CASE WHEN g % 3 = 0 THEN NULL ELSE jsonb_build_object('k', g * 1.5) END,
    (g * 12345.6789012345)::numeric(30, 10),
    timestamptz '2026-03-29 01:59:59+01' + make_interval(mins => g),
    timestamp '1999-12-31 23:59:59' + make_interval(secs => g),
    CASE WHEN g % 4 = 0 THEN NULL ELSE g % 2 = 0 END
FROM generate_series(1, 500) AS g;
CREATE VIEW appsnap_types_summary AS
    SELECT count(*) AS rows, sum(amount) AS total, max(seen_at) AS latest FROM appsnap_types;
