-- The identity of the cluster that shares this database: a random text drawn once, when
-- this migration runs. Nodes put it in their beats on NATS and ignore beats that carry
-- another one, so two clusters on one NATS server do not take each other's nodes for
-- their own (docs/cluster.md).
CREATE TABLE cluster_identity (
    id TEXT PRIMARY KEY
);
INSERT INTO cluster_identity (id) VALUES (lower(hex(randomblob(16))));
