-- Logs on a cluster: the Distributed table in front of logs_local is sharded
-- by what the client sent (trace, span, service, body), no longer by the
-- timestamp. A log record without a time of its own takes the gateway's
-- received time, so a request re-sent with the same Idempotency-Key to
-- another gateway got another time; its row could then land on the other
-- shard, whose nodes had not seen the request's deduplication token, and be
-- stored twice (seen in the cluster tests). One server: nothing to do.
-- The queue of rows not yet sent to the shards goes out first.

-- cluster only
SYSTEM FLUSH DISTRIBUTED ${db}.logs;

-- cluster only
CREATE OR REPLACE TABLE ${db}.logs AS ${db}.logs_local
ENGINE = Distributed(${cluster}, ${db}, logs_local, cityHash64(trace_id, span_id, service, body));
