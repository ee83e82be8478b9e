//! The `cluster` section: this node's name among several nodes sharing one PostgreSQL
//! database (attendance by node, home-node leases, the scheduling lock) and one NATS
//! server (halls bridged to their meeting's home room; docs/cluster.md). Without it the
//! node is `local` and runs alone.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Settings;

/// One node of several (`[cluster]` in the settings file, `HOINGHI_CLUSTER__NODE_ID`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// This node's short, stable name (1–32 of `a-z 0-9 - _`): written on every
    /// attendance interval and home-node lease it writes, so keep it across restarts —
    /// at start-up a node closes only the intervals left open under its own name.
    pub node_id: String,
    /// The NATS server the nodes bridge halls' sockets through: a hall may connect to
    /// any node, its socket bridged to the meeting's home room (credentials in the URL
    /// are never logged).
    #[serde(default = "default_nats_url")]
    pub nats_url: String,
    /// How long a live meeting's home-node lease lasts without renewal, in seconds; it
    /// is renewed every third of that. A dead node's meetings can be taken over after it.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Every node's public base URL by node id (`{ node-a = "https://a.hop.tinh.vn" }`;
    /// in the environment `HOINGHI_CLUSTER__PUBLIC_URLS='{node-a="https://…"}'`): a
    /// hall's page tries the next node when its connection is lost, and goes to the node
    /// a `home_elsewhere` refusal names. Empty: the page knows only its own node.
    #[serde(default)]
    pub public_urls: BTreeMap<String, String>,
    /// Where halls' media goes, by node id: unit ids (`{ node-b = [17, 18] }`; in the
    /// environment `HOINGHI_CLUSTER__MEDIA_REGIONS='{node-b=[17,18]}'`). A hall under one
    /// of a node's units (itself or an ancestor; the nearest listed wins) sends its
    /// media to that node's SFU while it beats; else to the node its socket came
    /// through, else to its meeting's home node.
    #[serde(default)]
    pub media_regions: BTreeMap<String, Vec<i64>>,
}

fn default_nats_url() -> String {
    "nats://127.0.0.1:4222".into()
}

fn default_lease_secs() -> u64 {
    15
}

/// What the rest of the server needs of the cluster section, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This node's name.
    pub node_id: String,
    /// How long a home-node lease lasts without renewal.
    pub lease: Duration,
    /// The NATS server (`nats://[user:password@]host:port`).
    pub nats_url: String,
    /// Every node's public base URL by node id (no trailing `/`).
    pub public_urls: BTreeMap<String, String>,
    /// The units whose halls' media each node carries, by node id.
    pub media_regions: BTreeMap<String, Vec<i64>>,
}

impl ClusterConfig {
    /// The WebSocket origins (`ws://host[:port]`, `wss://…`) of every node's public URL:
    /// where a page served by one node may open its socket (the page's
    /// Content-Security-Policy lists them). A URL whose host holds anything but
    /// letters, digits, `.`, `-`, `:`, `[` and `]` is left out (it could not be one
    /// source of the policy).
    pub fn socket_origins(&self) -> Vec<String> {
        self.public_urls
            .values()
            .filter_map(|url| {
                let (scheme, rest) = url.split_once("://")?;
                let host = rest.split('/').next()?.to_ascii_lowercase();
                let plain = host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
                let ws = match scheme.to_ascii_lowercase().as_str() {
                    "https" => "wss",
                    "http" => "ws",
                    _ => return None,
                };
                (plain && !host.is_empty()).then(|| format!("{ws}://{host}"))
            })
            .collect()
    }
}

/// Whether `id` is a well-formed node id: 1–32 of `a-z 0-9 - _`.
fn well_formed(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The public URLs checked: node ids well formed, each URL `http(s)://host…`.
fn public_urls(urls: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    urls.iter()
        .map(|(node, url)| {
            if !well_formed(node) {
                return Err(format!(
                    "settings: cluster.public_urls: {node:?} is not a node id (1 to 32 of a-z, 0-9, - and _)"
                ));
            }
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
                return Err(format!(
                    "settings: cluster.public_urls.{node} must be http://host… or https://host…"
                ));
            }
            Ok((node.clone(), url.trim_end_matches('/').to_string()))
        })
        .collect()
}

/// The media regions checked: node ids well formed, unit ids positive, no unit under two
/// nodes.
fn media_regions(
    regions: &BTreeMap<String, Vec<i64>>,
) -> Result<BTreeMap<String, Vec<i64>>, String> {
    let mut seen = std::collections::HashMap::new();
    for (node, units) in regions {
        if !well_formed(node) {
            return Err(format!(
                "settings: cluster.media_regions: {node:?} is not a node id (1 to 32 of a-z, 0-9, - and _)"
            ));
        }
        for &unit in units {
            if unit <= 0 {
                return Err(format!(
                    "settings: cluster.media_regions.{node}: {unit} is not a unit id"
                ));
            }
            if let Some(other) = seen.insert(unit, node) {
                return Err(format!(
                    "settings: cluster.media_regions: unit {unit} is under both {other} and {node}"
                ));
            }
        }
    }
    Ok(regions.clone())
}

impl Settings {
    /// This node's name: the cluster's `node_id`, or [`scheduler::LOCAL_NODE`] without a
    /// cluster section.
    pub fn node_id(&self) -> &str {
        self.cluster
            .as_ref()
            .map_or(scheduler::LOCAL_NODE, |c| c.node_id.as_str())
    }

    /// The cluster section checked (each error names its key); `None` without one.
    pub fn cluster_config(&self) -> Result<Option<ClusterConfig>, String> {
        let Some(cluster) = &self.cluster else {
            return Ok(None);
        };
        if !(self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(
                "settings: cluster needs a PostgreSQL database_url (postgres://…): \
                 the nodes share attendance, home-node leases and the scheduling lock there; \
                 a SQLite file belongs to one node"
                    .into(),
            );
        }
        let id = &cluster.node_id;
        if !well_formed(id) {
            return Err(
                "settings: cluster.node_id must be 1 to 32 of a-z, 0-9, - and _ (e.g. node-a)"
                    .into(),
            );
        }
        if id == scheduler::LOCAL_NODE {
            return Err(format!(
                "settings: cluster.node_id must not be {:?} (the name of a node without a cluster section)",
                scheduler::LOCAL_NODE
            ));
        }
        let nats = &cluster.nats_url;
        let host = nats
            .strip_prefix("nats://")
            .or_else(|| nats.strip_prefix("tls://"));
        if host.is_none_or(str::is_empty) {
            return Err(
                "settings: cluster.nats_url must be nats://host:port or tls://host:port".into(),
            );
        }
        if !(3..=300).contains(&cluster.lease_secs) {
            return Err("settings: cluster.lease_secs must be 3 to 300".into());
        }
        Ok(Some(ClusterConfig {
            node_id: id.clone(),
            lease: Duration::from_secs(cluster.lease_secs),
            nats_url: cluster.nats_url.clone(),
            public_urls: public_urls(&cluster.public_urls)?,
            media_regions: media_regions(&cluster.media_regions)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(node_id: &str) -> Settings {
        Settings {
            database_url: "postgres://postgres@127.0.0.1:5432/test".into(),
            cluster: Some(ClusterSettings {
                node_id: node_id.into(),
                nats_url: default_nats_url(),
                lease_secs: 15,
                public_urls: BTreeMap::new(),
                media_regions: BTreeMap::new(),
            }),
            ..Settings::default()
        }
    }

    #[test]
    fn without_a_cluster_section_the_node_is_local_on_sqlite() {
        let s = Settings::default();
        assert!(s.validate().is_ok());
        assert_eq!(s.node_id(), "local");
        assert_eq!(s.cluster_config(), Ok(None));
    }

    #[test]
    fn a_cluster_needs_postgresql_and_says_so() {
        let mut s = cluster("node-a");
        s.database_url = "sqlite://hoinghi-data/hoinghi.db".into();
        let err = s.validate().unwrap_err();
        assert!(
            err.contains("cluster") && err.contains("PostgreSQL database_url"),
            "{err}"
        );
        let s = cluster("node-a");
        assert!(s.validate().is_ok(), "{:?}", s.validate());
        assert_eq!(s.node_id(), "node-a");
        assert_eq!(
            s.cluster_config().unwrap().unwrap().lease,
            Duration::from_secs(15)
        );
    }

    #[test]
    fn bad_cluster_values_are_refused_by_name() {
        for bad in ["", "Node A", "local", "a/b", &"x".repeat(33)] {
            let err = cluster(bad).validate().unwrap_err();
            assert!(err.contains("cluster.node_id"), "{bad:?}: {err}");
        }
        let mut s = cluster("b");
        s.cluster.as_mut().unwrap().nats_url = "http://127.0.0.1:4222".into();
        assert!(s.validate().unwrap_err().contains("cluster.nats_url"));
        let mut s = cluster("b");
        s.cluster.as_mut().unwrap().lease_secs = 1;
        assert!(s.validate().unwrap_err().contains("cluster.lease_secs"));
        for (node, url) in [("Node A", "http://a"), ("a", "ftp://a"), ("a", "https://")] {
            let mut s = cluster("b");
            let urls = &mut s.cluster.as_mut().unwrap().public_urls;
            urls.insert(node.into(), url.into());
            let err = s.validate().unwrap_err();
            assert!(err.contains("cluster.public_urls"), "{node} {url}: {err}");
        }
        let regions = [
            vec![("Node B", vec![17])],
            vec![("node-b", vec![0])],
            vec![("node-b", vec![17]), ("node-c", vec![18, 17])],
        ];
        for bad in regions {
            let mut s = cluster("b");
            let map = &mut s.cluster.as_mut().unwrap().media_regions;
            map.extend(bad.iter().map(|(n, u)| (n.to_string(), u.clone())));
            let err = s.validate().unwrap_err();
            assert!(err.contains("cluster.media_regions"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_section_comes_from_the_file() {
        let dir = std::env::temp_dir().join(format!("hoinghi-cluster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hoinghi.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://postgres@127.0.0.1/test\"\n\
             [cluster]\nnode_id = \"hn-1\"\nlease_secs = 9\n\
             public_urls = { hn-1 = \"http://10.0.0.1:8080/\", hn-2 = \"https://b.hop.tinh.vn\" }\n\
             media_regions = { hn-2 = [17, 18] }\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), figment::Figment::new()).unwrap();
        assert_eq!(s.node_id(), "hn-1");
        assert_eq!(
            s.cluster
                .as_ref()
                .map(|c| (c.nats_url.as_str(), c.lease_secs)),
            Some(("nats://127.0.0.1:4222", 9))
        );
        let config = s.cluster_config().unwrap().unwrap();
        assert_eq!(config.media_regions.get("hn-2"), Some(&vec![17, 18]));
        let rooms = s.signaling_config().unwrap();
        assert_eq!(rooms.media_regions, config.media_regions);
        let urls = config.public_urls;
        assert_eq!(
            urls.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            [
                ("hn-1", "http://10.0.0.1:8080"),
                ("hn-2", "https://b.hop.tinh.vn")
            ]
        );
        // The pages' sockets may go to every node (the CSP's connect-src).
        assert_eq!(
            s.http_config().unwrap().socket_origins,
            ["ws://10.0.0.1:8080", "wss://b.hop.tinh.vn"]
        );
        std::fs::write(&path, "[cluster]\nnode_id = \"hn-1\"\nnode = 2\n").unwrap();
        let err = Settings::load(Some(&path), figment::Figment::new()).unwrap_err();
        assert!(err.contains("node"), "unknown keys are refused: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
