-- Case-insensitive log search through one index lookup per word. idx_body
-- (0002) is on `body` as written, and neither hasTokenCaseInsensitive nor
-- hasToken(lower(body), ...) can use it, so GET /v1/logs searched each word
-- in four spellings (as typed, lower, UPPER, Capitalized): four lookups a
-- word, and `timeout` missed `TimeOut`. This index is on the body
-- case-folded: Unicode lowercase (lowerUTF8; lower() folds ASCII only), then
-- the final sigma ς as σ, so that folding depends on each character alone
-- (query/logs/body-tokens.ts FOLDED_BODY, which the search must name
-- exactly: ClickHouse picks an index by its expression). The same kind of
-- index as idx_body (${body_index_kind}).
--
-- idx_body stays, for SQL written against `body` as it is (users', and
-- tools reading otel_logs.Body); GET /v1/logs no longer reads it. Each costs
-- about as much disk as the body column, and inserts build both: a later
-- migration may drop it once this one's mutation is done everywhere
-- (docs/tables.md).
ALTER TABLE ${db}.logs ADD INDEX IF NOT EXISTS idx_body_folded replaceAll(lowerUTF8(body), 'ς', 'σ') TYPE ${body_index} GRANULARITY 1;

-- Build it for the parts already written (a background mutation; until it is
-- done, a search reads those parts' bodies: the same rows, found slower).
ALTER TABLE ${db}.logs MATERIALIZE INDEX idx_body_folded;
