//! A cluster of `hoinghi` processes on one database for the tests: one node per name,
//! the first on the data directory (it seeds the demo), the others on fresh directories.

use tokio::process::Child;

use super::{free_port, start_node, DataDir};

/// A fresh data directory on the tests' database for a cluster test, or `None` (said
/// on stderr) when that is not PostgreSQL (`TEST_BACKEND=postgres`): several nodes share
/// one database, which SQLite cannot be.
pub async fn cluster_data() -> Option<DataDir> {
    let data = DataDir::new().await;
    if data.database_url().starts_with("postgres") {
        return Some(data);
    }
    eprintln!("skipped: a cluster needs PostgreSQL (TEST_BACKEND=postgres)");
    data.cleanup().await;
    None
}

/// The nodes of a cluster, in the order of their names.
pub struct Cluster {
    /// The nodes' processes (killed when dropped).
    pub nodes: Vec<Child>,
    /// Each node's port.
    pub ports: Vec<u16>,
    /// The data directories of the nodes after the first (dropped after the nodes).
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// Starts one node per name of `names` on `data`'s database, each with its
    /// `HOINGHI_CLUSTER__NODE_ID` and the extra settings `env`.
    pub async fn start(data: &DataDir, names: &[impl AsRef<str>], env: &[(&str, &str)]) -> Cluster {
        Cluster::launch(data, names, env, false).await
    }

    /// As [`Cluster::start`], each node also told every node's address
    /// (`HOINGHI_CLUSTER__PUBLIC_URLS`).
    pub async fn start_public(
        data: &DataDir,
        names: &[impl AsRef<str>],
        env: &[(&str, &str)],
    ) -> Cluster {
        Cluster::launch(data, names, env, true).await
    }

    async fn launch(
        data: &DataDir,
        names: &[impl AsRef<str>],
        env: &[(&str, &str)],
        public: bool,
    ) -> Cluster {
        let url = data.database_url();
        let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
        let public_urls = format!(
            "{{{}}}",
            names
                .iter()
                .zip(&ports)
                .map(|(n, p)| format!("{}=\"http://127.0.0.1:{p}\"", n.as_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let dirs: Vec<tempfile::TempDir> = (1..names.len())
            .map(|_| tempfile::tempdir().unwrap())
            .collect();
        let mut nodes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let dir = if i == 0 {
                data.path()
            } else {
                dirs[i - 1].path()
            };
            let mut settings = vec![("HOINGHI_CLUSTER__NODE_ID", name.as_ref())];
            if public {
                settings.push(("HOINGHI_CLUSTER__PUBLIC_URLS", public_urls.as_str()));
            }
            settings.extend_from_slice(env);
            // The first node seeds the demo; the others find it there.
            nodes.push(start_node(dir, &url, ports[i], &settings).await);
        }
        Cluster {
            nodes,
            ports,
            _dirs: dirs,
        }
    }

    /// Node `i`'s API address.
    pub fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Each node's socket URL, as a hall's page has them.
    pub fn ws_urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("ws://127.0.0.1:{p}/ws"))
            .collect()
    }
}
