//! Server settings: defaults, then an optional TOML file, then `HOINGHI_*` variables, then flags.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use signaling::protocol::IceTransportPolicy;

use crate::ice::{IceSettings, Secret};

mod cluster;
mod http;
mod recordings;
pub use cluster::{ClusterConfig, ClusterSettings};
pub use http::{HttpConfig, TlsFiles, TrustedProxies};
pub use recordings::{RecordingsSettings, SWEEP_EVERY};
pub mod limits;

/// Everything the server can be told. Unknown keys are refused at start-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where to listen (port 0 picks a free port).
    pub addr: SocketAddr,
    /// `sqlite://path/to/file.db` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// The address halls reach the server at, for join links and calendar feeds;
    /// defaults to `http://{addr}`.
    pub public_url: Option<String>,
    /// How long a login lasts.
    pub session_ttl_hours: i64,
    /// How long a hall's kiosk PC stays signed in with its room account after its last
    /// use, in days (a device session, renewed while used); 0: room accounts get ordinary
    /// sessions of `session_ttl_hours`.
    pub device_session_days: i64,
    /// Mark cookies `Secure` on every answer. With TLS on, or a trusted proxy saying
    /// `X-Forwarded-Proto: https`, they are anyway; set this behind a proxy that
    /// terminates TLS without saying so.
    pub cookie_secure: bool,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest unit CSV accepted by the import endpoint, in bytes.
    pub max_import_bytes: usize,
    /// Log filter (`tracing` EnvFilter syntax).
    pub log: String,
    /// The address media (WebRTC over UDP) binds to: a concrete address, never 0.0.0.0.
    pub media_bind_ip: IpAddr,
    /// Addresses announced to halls instead of `media_bind_ip` (1:1 NAT); empty: none.
    pub media_announced_ips: Vec<IpAddr>,
    /// The one UDP port every hall's media uses (0: any free one, logged at start-up):
    /// one firewall rule for the whole province.
    pub media_udp_port: u16,
    /// Offer H.264 to halls besides VP8: a hall page opened with `?codec=h264` then
    /// publishes H.264, forwarded to the halls that can decode it. Off by default
    /// (pages publish simulcast VP8, which the SFU can adapt per hall).
    pub media_h264: bool,
    /// Also send the SFU's ICE candidates to pages as trickled candidates (the answer
    /// carries them in any case).
    pub media_trickle: bool,
    /// Media workers sharing `media_udp_port` (halls spread over them, one meeting may
    /// span them; docs/sfu-driver.md); 0: one per CPU core.
    pub media_workers: usize,
    /// How long a hall whose connection dropped stays present (and keeps one attendance
    /// interval if it comes back), in seconds.
    pub reconnect_grace_secs: u64,
    /// How often halls' pages ping, in seconds; three missed pings close the socket.
    pub heartbeat_secs: u64,
    /// How often connected halls are written down as present, in seconds: after a
    /// crash, their attendance ends at the last such write.
    pub presence_secs: u64,
    /// How long a write to a page's meeting socket may wait for the page to read, in
    /// seconds, before the socket is closed with 1008 `not_reading` (a page that stopped
    /// reading; a burst other halls made never counts, it is coalesced).
    pub socket_write_timeout_secs: u64,
    /// How often a page is sent the state that changes often (the meeting's state, the
    /// readiness board, other halls' headcounts, answers and hands), in milliseconds;
    /// changes in between are coalesced to the latest.
    pub state_interval_ms: u64,
    /// STUN/TURN servers told to halls' pages (`stun:host:3478`,
    /// `turn:host:3478?transport=udp`, `turn:host:3478?transport=tcp`, `turns:host:5349`):
    /// halls whose UDP is blocked relay through TURN over TCP or TLS. Empty: none.
    pub ice_servers: Vec<String>,
    /// coturn's `static-auth-secret` (`use-auth-secret`): pages get time-limited TURN
    /// credentials made with it. Required with `turn:` URLs; never printed.
    pub turn_secret: Option<Secret>,
    /// How long a page's TURN credentials stay valid, in hours (fresh on every join).
    pub turn_credential_hours: u64,
    /// `all` (direct first, TURN when that fails) or `relay` (every hall through TURN).
    pub ice_transport_policy: IceTransportPolicy,
    /// Password checks running at once: a fixed pool of threads, each holding one
    /// ~19 MiB argon2 block; 0: one per CPU core, at most 8. Logins beyond them queue,
    /// served in turn per client network and address, up to `login_hash_wait_ms`, then
    /// get 503 `busy`.
    pub login_hash_slots: usize,
    /// How long a login waits for a password-check slot, in milliseconds.
    pub login_hash_wait_ms: u64,
    /// Logins waiting for a password check, at most; when full, the address waiting
    /// most gives way to another (its newest login gets 503 `busy`).
    pub login_hash_queue: usize,
    /// Failed logins of one account name before it must wait.
    pub login_account_free_attempts: u32,
    /// Failed logins from one address (any account) before it must wait.
    pub login_address_free_attempts: u32,
    /// The first wait after the free attempts, in seconds; doubled with each further failure.
    pub login_lock_base_secs: i64,
    /// The longest wait, in seconds.
    pub login_lock_max_secs: i64,
    /// How long a browser is a known login device after a successful login, in days (its
    /// `hoinghi_device` cookie: its logins of that account go before the anonymous queue
    /// and past its address's lockout); 0: no device cookies.
    pub login_device_days: i64,
    /// How long a client network (IPv4 /24, IPv6 /64) stays *known* after a successful
    /// login from it, in days: its logins go before those from never-seen networks; 0:
    /// no network is known.
    pub login_network_days: i64,
    /// The attendance writer's journal: changes written to disk first and kept there
    /// while the database does not take them (an outage, a full disk), written at the
    /// next start after a crash. Default: `attendance.journal` beside the SQLite file,
    /// or in `hoinghi-data/` with PostgreSQL.
    pub attendance_journal: Option<PathBuf>,
    /// The most the journal may hold, in MiB; beyond it changes wait in memory only.
    pub attendance_journal_max_mb: u64,
    /// On a stop (SIGTERM, Ctrl-C): the most seconds spent writing what the rooms
    /// recorded before exiting (what is left stays in the journal for the next start).
    pub drain_secs: u64,
    /// PEM certificate chain: with `tls_key_file`, `addr` speaks only HTTPS (browsers
    /// open cameras only on secure pages). Both files are re-read when they change.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate files are checked for a renewal, in seconds.
    pub tls_reload_secs: u64,
    /// A plain-HTTP address that only redirects to HTTPS (e.g. `0.0.0.0:80`); needs TLS.
    pub http_redirect_addr: Option<SocketAddr>,
    /// A directory the redirect listener serves ACME HTTP-01 challenges from
    /// (`/.well-known/acme-challenge/…`: certbot `--webroot -w` the same directory).
    pub acme_challenge_dir: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age sent on HTTPS answers, in seconds (0: none).
    pub hsts_max_age_secs: u64,
    /// Reverse proxies (CIDR, e.g. `127.0.0.1/32`) whose `X-Forwarded-For`,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` are believed; from any other peer
    /// these headers are dropped. Empty: no proxy is believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to finish the TLS handshake and a request's headers.
    pub http_header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub http_idle_timeout_secs: u64,
    /// Seconds a meeting socket may stay open without sending `join` (then closed,
    /// `join_timeout`).
    pub join_timeout_secs: u64,
    /// Meeting sockets open at once, in all; more get 503 `server_full`.
    pub max_sockets: usize,
    /// Meeting sockets open at once from one client address; more get 429
    /// `too_many_sockets` (halls behind one NAT share an address: keep it generous).
    pub max_sockets_per_address: usize,
    /// Halls present at once on this node; a new hall beyond it is refused with
    /// `capacity` (0: no limit).
    pub max_halls: usize,
    /// Packets forwarded per second above which new halls are refused with `capacity`
    /// (0: no limit).
    pub max_forwarded_pps: u64,
    /// Where `GET /metrics` (Prometheus text format) is served: a separate listener, so
    /// a firewall keeps it to the monitoring host. None: no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// `text` (default) or `json` (one JSON object per log line).
    pub log_format: limits::LogFormat,
    /// One node of several sharing a PostgreSQL database (`[cluster]`: `node_id`,
    /// `nats_url`, `lease_secs`; docs/cluster.md). None: one node, named `local`.
    pub cluster: Option<ClusterSettings>,
    /// Meeting recordings (`[recordings]`: `dir`, `retention_days`, `kinds`).
    pub recordings: RecordingsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://hoinghi-data/hoinghi.db".into(),
            public_url: None,
            session_ttl_hours: 12,
            device_session_days: 180,
            cookie_secure: false,
            max_body_bytes: 64 * 1024,
            max_import_bytes: 8 * 1024 * 1024,
            log: "info,sqlx=warn".into(),
            media_bind_ip: IpAddr::from([127, 0, 0, 1]),
            media_announced_ips: Vec::new(),
            media_udp_port: 0,
            media_h264: false,
            media_trickle: false,
            media_workers: 0,
            reconnect_grace_secs: 10,
            heartbeat_secs: 10,
            presence_secs: 15,
            socket_write_timeout_secs: 10,
            state_interval_ms: 250,
            ice_servers: Vec::new(),
            turn_secret: None,
            turn_credential_hours: 12,
            ice_transport_policy: IceTransportPolicy::All,
            login_hash_slots: 0,
            login_hash_wait_ms: 10_000,
            login_hash_queue: 1024,
            login_account_free_attempts: 5,
            login_address_free_attempts: 30,
            login_lock_base_secs: 5,
            login_lock_max_secs: 15 * 60,
            login_device_days: 365,
            login_network_days: 30,
            attendance_journal: None,
            attendance_journal_max_mb: 256,
            drain_secs: 10,
            tls_cert_file: None,
            tls_key_file: None,
            tls_reload_secs: 30,
            http_redirect_addr: None,
            acme_challenge_dir: None,
            hsts_max_age_secs: 365 * 86400,
            trusted_proxies: Vec::new(),
            http_header_timeout_secs: 10,
            http_idle_timeout_secs: 60,
            join_timeout_secs: 10,
            max_sockets: limits::MAX_SOCKETS,
            max_sockets_per_address: limits::MAX_SOCKETS_PER_ADDRESS,
            max_halls: limits::MAX_HALLS,
            max_forwarded_pps: limits::MAX_FORWARDED_PPS,
            metrics_addr: None,
            log_format: limits::LogFormat::Text,
            cluster: None,
            recordings: RecordingsSettings::default(),
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` if given, then `HOINGHI_*` variables (test-only
    /// `HOINGHI_TEST_*` variables are not settings; `__` reaches into a section, as in
    /// `HOINGHI_CLUSTER__NODE_ID`), then the `overrides` from flags.
    pub fn load(file: Option<&Path>, overrides: Figment) -> Result<Settings, String> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(format!("settings file {} does not exist", file.display()));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("HOINGHI_")
                    .filter(|k| {
                        !k.as_str().starts_with("test_") && !k.as_str().starts_with("demo_")
                    })
                    .split("__"),
            )
            .merge(overrides);
        let settings: Settings = figment.extract().map_err(|e| format!("settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err("settings: database_url must start with sqlite: or postgres://".into());
        }
        if !(1..=24 * 30).contains(&self.session_ttl_hours) {
            return Err("settings: session_ttl_hours must be 1 to 720".into());
        }
        if !(0..=400).contains(&self.device_session_days) {
            // Browsers keep a cookie at most 400 days.
            return Err("settings: device_session_days must be 0 to 400".into());
        }
        if self.max_body_bytes < 1024 {
            return Err("settings: max_body_bytes must be at least 1024".into());
        }
        if !(1..=65_536).contains(&self.attendance_journal_max_mb) {
            return Err("settings: attendance_journal_max_mb must be 1 to 65536".into());
        }
        if !(1..=600).contains(&self.drain_secs) {
            return Err("settings: drain_secs must be 1 to 600".into());
        }
        self.sfu_config()?;
        self.signaling_config()?;
        self.login_policy()?;
        self.http_config()?;
        self.socket_limits()?;
        self.cluster_config()?;
        self.check_recordings()?;
        Ok(())
    }

    /// How long sessions last: ordinary ones, and room accounts' device sessions.
    pub fn lifetimes(&self) -> scheduler::Lifetimes {
        scheduler::Lifetimes {
            session_secs: self.session_ttl_hours * 3600,
            device_secs: (self.device_session_days > 0).then(|| self.device_session_days * 86_400),
        }
    }

    /// How logins are guarded (bounded hashing, throttling), checked by name.
    pub fn login_policy(&self) -> Result<scheduler::LoginPolicy, String> {
        if self.login_account_free_attempts == 0 || self.login_address_free_attempts == 0 {
            return Err(
                "settings: login_account_free_attempts and login_address_free_attempts must be at least 1"
                    .into(),
            );
        }
        if !(1..=3600).contains(&self.login_lock_base_secs)
            || !(self.login_lock_base_secs..=7 * 86400).contains(&self.login_lock_max_secs)
        {
            return Err("settings: login_lock_base_secs must be 1 to 3600 and login_lock_max_secs from it to 604800".into());
        }
        if self.login_hash_slots > 64 || !(1..=100_000).contains(&self.login_hash_queue) {
            return Err(
                "settings: login_hash_slots must be 0 to 64 and login_hash_queue 1 to 100000"
                    .into(),
            );
        }
        if !(0..=3650).contains(&self.login_device_days) {
            return Err("settings: login_device_days must be 0 to 3650".into());
        }
        if !(0..=365).contains(&self.login_network_days) {
            return Err("settings: login_network_days must be 0 to 365".into());
        }
        let defaults = scheduler::LoginPolicy::default();
        Ok(scheduler::LoginPolicy {
            hash_slots: match self.login_hash_slots {
                0 => defaults.hash_slots,
                n => n,
            },
            hash_wait: std::time::Duration::from_millis(self.login_hash_wait_ms),
            hash_queue: self.login_hash_queue,
            account_free_attempts: self.login_account_free_attempts,
            address_free_attempts: self.login_address_free_attempts,
            lock_base_secs: self.login_lock_base_secs,
            lock_max_secs: self.login_lock_max_secs,
            known_device_secs: self.login_device_days * 86_400,
            known_network_secs: self.login_network_days * 86_400,
            ..defaults
        })
    }

    /// Where the server keeps its own files by default: the SQLite file's directory, or
    /// `hoinghi-data` (relative to the working directory) with PostgreSQL.
    pub fn data_dir(&self) -> PathBuf {
        let file = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|f| !f.is_empty() && !f.contains(":memory:"));
        match file.map(Path::new).and_then(Path::parent) {
            Some(dir) => dir.to_path_buf(),
            None if file.is_some() => PathBuf::from("."),
            None => PathBuf::from("hoinghi-data"),
        }
    }

    /// Where the attendance writer's journal is, and its limit.
    pub fn journal_config(&self) -> signaling::recorder::JournalConfig {
        let path = self
            .attendance_journal
            .clone()
            .unwrap_or_else(|| self.data_dir().join("attendance.journal"));
        signaling::recorder::JournalConfig {
            path,
            max_bytes: self.attendance_journal_max_mb * 1024 * 1024,
        }
    }

    /// The timings of live meetings.
    pub fn signaling_config(&self) -> Result<signaling::SignalingConfig, String> {
        if !(1..=600).contains(&self.reconnect_grace_secs) {
            return Err("settings: reconnect_grace_secs must be 1 to 600".into());
        }
        if !(1..=120).contains(&self.heartbeat_secs) {
            return Err("settings: heartbeat_secs must be 1 to 120".into());
        }
        if !(1..=300).contains(&self.presence_secs) {
            return Err("settings: presence_secs must be 1 to 300".into());
        }
        if !(1..=300).contains(&self.socket_write_timeout_secs) {
            return Err("settings: socket_write_timeout_secs must be 1 to 300".into());
        }
        if !(20..=5000).contains(&self.state_interval_ms) {
            return Err("settings: state_interval_ms must be 20 to 5000".into());
        }
        Ok(signaling::SignalingConfig {
            grace: std::time::Duration::from_secs(self.reconnect_grace_secs),
            heartbeat: std::time::Duration::from_secs(self.heartbeat_secs),
            presence_interval: std::time::Duration::from_secs(self.presence_secs),
            write_timeout: std::time::Duration::from_secs(self.socket_write_timeout_secs),
            state_interval: std::time::Duration::from_millis(self.state_interval_ms),
            ice: IceSettings {
                urls: &self.ice_servers,
                secret: self.turn_secret.as_ref(),
                credential_hours: self.turn_credential_hours,
                policy: self.ice_transport_policy,
            }
            .config()?,
            join_timeout: self.join_timeout()?,
            capacity: self.capacity(),
            recordings_dir: Some(self.recordings_dir()),
            record_kinds: self.record_kinds(),
            media_regions: self
                .cluster_config()?
                .map(|c| c.media_regions)
                .unwrap_or_default(),
            ..signaling::SignalingConfig::default()
        })
    }

    /// The media plane's configuration, validated (each error names its setting).
    pub fn sfu_config(&self) -> Result<signaling::sfu::SfuConfig, String> {
        if self.media_bind_ip.is_unspecified() {
            return Err(
                "settings: media_bind_ip must be a concrete address, not 0.0.0.0 or ::".into(),
            );
        }
        if self
            .media_announced_ips
            .iter()
            .any(|ip| ip.is_unspecified())
        {
            return Err("settings: media_announced_ips must be concrete addresses".into());
        }
        let config = signaling::sfu::SfuConfig {
            bind_ip: self.media_bind_ip,
            announced_ips: self.media_announced_ips.clone(),
            udp_port: self.media_udp_port,
            codecs: signaling::sfu::Codecs {
                h264: self.media_h264,
            },
            trickle_candidates: self.media_trickle,
            media_workers: self.media_workers,
            ..signaling::sfu::SfuConfig::default()
        };
        config.validate().map_err(|e| format!("settings: {e}"))?;
        Ok(config)
    }

    /// The base URL of links handed to halls (`https://` when the server speaks TLS).
    pub fn public_base(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls_cert_file.is_some() {
            "https"
        } else {
            "http"
        };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"))
            .trim_end_matches('/')
            .to_string()
    }
}

#[cfg(test)]
mod tests;
