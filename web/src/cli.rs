//! The command line: `demo`, `serve`, `units import`, `units carry-halls`, `admin create`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use figment::providers::Serialized;
use figment::Figment;
use scheduler::demo::DemoOptions;
use scheduler::{ImportOptions, NewAccount, Role, Store};

use crate::{Application, Settings};

/// Hoinghi: online meetings for a tiered government.
#[derive(Parser, Debug)]
#[command(name = "hoinghi", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs the server with demo data (Phú Thọ, 2024 tree) on SQLite; no set-up needed.
    Demo {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Where the SQLite file lives.
        #[arg(long, default_value = "hoinghi-data")]
        data_dir: PathBuf,
        /// Password of every demo account; required when `addr` is not loopback.
        #[arg(long, env = "HOINGHI_DEMO_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The demo on another database (e.g. an empty PostgreSQL database) instead of
        /// the SQLite file in `data_dir`; the attendance journal stays in `data_dir`.
        #[arg(long)]
        database_url: Option<String>,
        /// Serve HTTPS with a throw-away local CA (kept in `data_dir/tls/`) and a
        /// certificate for localhost and 127.0.0.1: cameras work on a LAN trial once the
        /// halls' machines trust the CA (printed at start-up).
        #[arg(long)]
        tls: bool,
        /// Another name or address the certificate is valid for (the server's LAN
        /// address, e.g. 192.168.1.10); repeatable.
        #[arg(long = "tls-name", requires = "tls")]
        tls_names: Vec<String>,
        /// Loads the 2024 tree with its halls and the 2025 tree, and carries nothing: the
        /// halls wait on their 2024 units for an administrator to carry them at /admin/carry.
        #[arg(long)]
        before_carry: bool,
    },
    /// Runs the server for a real deployment.
    Serve {
        /// A TOML settings file (keys as in `Settings`; unknown keys are refused).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides `addr`.
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Overrides `database_url`.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Manages the unit tree.
    Units {
        #[command(subcommand)]
        command: UnitsCommand,
    },
    /// Manages administrator accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum UnitsCommand {
    /// Imports a GSO unit file (code,parent_code,level,division_type,name); prints per-level counts.
    Import {
        file: PathBuf,
        #[arg(
            long,
            env = "HOINGHI_DATABASE_URL",
            default_value = "sqlite://hoinghi-data/hoinghi.db"
        )]
        database_url: String,
        /// First day the file's units are valid (e.g. 2025-07-01 for the two-tier tree).
        #[arg(long)]
        valid_from: Option<NaiveDate>,
        /// Last day they are valid (e.g. 2025-06-30 for the three-tier tree).
        #[arg(long)]
        valid_to: Option<NaiveDate>,
        /// Puts a country unit above the file's provinces, for national meetings (name
        /// optional, default "Việt Nam"). Give it to every version of the tree alike.
        #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "Việt Nam")]
        country: Option<String>,
        /// The country unit's code (digits, used by no unit of the file).
        #[arg(long, default_value = "0")]
        country_code: String,
    },
    /// Moves the halls of units that end the day before `--on` to the units that took them
    /// over (a commune mapping `old_code,new_code,part`, and optionally a province mapping
    /// `old_code,new_code`). Halls keep their id, accounts, calendar feed and attendance;
    /// split communes and districts are listed for review unless told otherwise. Running it
    /// again changes nothing.
    CarryHalls {
        /// The commune mapping (data/vn-admin-units-2024-to-2025.csv).
        #[arg(long)]
        mapping: PathBuf,
        /// The province mapping (data/vn-provinces-2024-to-2025.csv): province halls and
        /// province secretariats follow it; without it they are listed.
        #[arg(long)]
        provinces: Option<PathBuf>,
        /// The first day of the new tree (2025-07-01).
        #[arg(long)]
        on: NaiveDate,
        /// Prints what it would do and writes nothing.
        #[arg(long)]
        dry_run: bool,
        /// Moves halls of split communes to the `main` new commune instead of listing them.
        #[arg(long)]
        splits_to_main: bool,
        /// Moves district halls to the commune that took the district's seat instead of
        /// listing them with that suggestion.
        #[arg(long)]
        place_districts: bool,
        #[arg(
            long,
            env = "HOINGHI_DATABASE_URL",
            default_value = "sqlite://hoinghi-data/hoinghi.db"
        )]
        database_url: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Creates an administrator; the password comes from HOINGHI_ADMIN_PASSWORD or standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(
            long,
            env = "HOINGHI_DATABASE_URL",
            default_value = "sqlite://hoinghi-data/hoinghi.db"
        )]
        database_url: String,
    },
}

/// Sets up text logging from `RUST_LOG`, else `filter` (commands other than the server).
pub fn init_tracing(filter: &str) {
    crate::telemetry::init(filter, crate::settings::limits::LogFormat::Text);
}

async fn hash_off_thread(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || scheduler::hash_password(&password)).await??)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo {
            addr,
            data_dir,
            password,
            database_url,
            tls,
            tls_names,
            before_carry,
        } => {
            let tls = tls.then_some(tls_names);
            let demo = DemoServer {
                addr,
                data_dir,
                password,
                database_url,
                tls,
                before_carry,
            };
            demo_server(demo).await
        }
        Command::Serve {
            config,
            addr,
            database_url,
        } => {
            let mut flags = Figment::new();
            if let Some(addr) = addr {
                flags = flags.merge(Serialized::default("addr", addr));
            }
            if let Some(url) = database_url {
                flags = flags.merge(Serialized::default("database_url", url));
            }
            let settings = Settings::load(config.as_deref(), flags).map_err(anyhow::Error::msg)?;
            crate::telemetry::init(&settings.log, settings.log_format);
            let app = Application::build(settings).await?;
            tracing::info!(url = app.public_base(), "hoinghi listening");
            app.run_until_stopped().await
        }
        Command::Units {
            command:
                UnitsCommand::Import {
                    file,
                    database_url,
                    valid_from,
                    valid_to,
                    country,
                    country_code,
                },
        } => {
            init_tracing("warn");
            let mut data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            if let Some(name) = country {
                let root = scheduler::national::CountryRoot {
                    code: country_code,
                    name,
                };
                data = scheduler::national::with_country_root(&data, &root)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            }
            let store = Store::connect(&database_url)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut options = ImportOptions::default();
            if let Some(d) = valid_from {
                options.valid_from = d;
            }
            options.valid_to = valid_to;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} đơn vị")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = store
                .import_units(&data, options, |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await;
            bar.finish_and_clear();
            let report = report.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            crate::cli_units::print_import(&report);
            Ok(())
        }
        Command::Units {
            command:
                UnitsCommand::CarryHalls {
                    mapping,
                    provinces,
                    on,
                    dry_run,
                    splits_to_main,
                    place_districts,
                    database_url,
                },
        } => {
            init_tracing("warn");
            let options = scheduler::carry::CarryOptions {
                on,
                dry_run,
                splits_to_main,
                place_districts,
            };
            crate::cli_units::carry_halls(&database_url, &mapping, provinces.as_deref(), options)
                .await
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    database_url,
                },
        } => {
            init_tracing("warn");
            let password = match std::env::var("HOINGHI_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("Mật khẩu / password:");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let store = Store::connect(&database_url)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let hash = hash_off_thread(password).await?;
            let account = store
                .create_account(
                    NewAccount {
                        username,
                        display_name: "Quản trị hệ thống".into(),
                        role: Role::Admin,
                    },
                    &hash,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created administrator {}", account.username);
            Ok(())
        }
    }
}

/// The password demo accounts get when the operator sets none (loopback only).
pub const DEMO_PASSWORD: &str = "hoinghi-demo";

/// `hoinghi demo`'s flags.
struct DemoServer {
    addr: SocketAddr,
    data_dir: PathBuf,
    password: Option<String>,
    database_url: Option<String>,
    /// The certificate's extra names, when serving HTTPS.
    tls: Option<Vec<String>>,
    /// Both trees, nothing carried.
    before_carry: bool,
}

async fn demo_server(demo: DemoServer) -> anyhow::Result<()> {
    let DemoServer {
        addr,
        data_dir,
        password,
        database_url,
        tls,
        before_carry,
    } = demo;
    if !addr.ip().is_loopback() && password.is_none() {
        anyhow::bail!("binding to {addr} (not loopback) requires setting the demo accounts' password: --password or HOINGHI_DEMO_PASSWORD");
    }
    let password = password.unwrap_or_else(|| DEMO_PASSWORD.to_string());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    // The demo takes `HOINGHI_*` settings too (timings, media ports); address,
    // database and journal come from its own flags.
    let database_url =
        database_url.unwrap_or_else(|| format!("sqlite://{}/hoinghi.db", data_dir.display()));
    let mut flags = Figment::new()
        .merge(Serialized::default("addr", addr))
        .merge(Serialized::default("database_url", database_url))
        .merge(Serialized::default(
            "attendance_journal",
            data_dir.join("attendance.journal"),
        ));
    // Recordings too stay in the data directory, unless the environment says where.
    if std::env::var_os("HOINGHI_RECORDINGS__DIR").is_none() {
        flags = flags.merge(Serialized::default(
            "recordings.dir",
            data_dir.join("recordings"),
        ));
    }
    let tls = match tls {
        Some(names) => {
            let made = crate::demo_tls::make(&data_dir.join("tls"), &names)?;
            flags = flags
                .merge(Serialized::default("tls_cert_file", &made.cert))
                .merge(Serialized::default("tls_key_file", &made.key));
            // Listening on every address: links name the first given LAN name instead.
            let first = names.first().filter(|_| {
                addr.ip().is_unspecified()
                    && addr.port() != 0
                    && std::env::var_os("HOINGHI_PUBLIC_URL").is_none()
            });
            if let Some(name) = first {
                let host = match name.parse::<std::net::Ipv6Addr>() {
                    Ok(_) => format!("[{name}]"),
                    Err(_) => name.clone(),
                };
                let url = format!("https://{host}:{}", addr.port());
                flags = flags.merge(Serialized::default("public_url", url));
            }
            Some(made)
        }
        None => None,
    };
    let settings = Settings::load(None, flags).map_err(anyhow::Error::msg)?;
    crate::telemetry::init(&settings.log, settings.log_format);
    let store = Store::connect(&settings.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let hash = hash_off_thread(password.clone()).await?;
    // One hash for every demo account: they share the demo password by design.
    let started = std::time::Instant::now();
    let options = DemoOptions {
        whole_country: true,
        meetings: true,
    };
    let logins = if before_carry {
        match scheduler::demo_today::seed_both_trees(&store, options, &hash)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            Some(both) => {
                println!(
                    "Dữ liệu demo trước khi chuyển điểm cầu / demo data before the carry ({:.1} s): \
                     cây 2024 và cây 2025, điểm cầu còn ở đơn vị 2024 / both trees, halls on their 2024 units; \
                     /admin/carry",
                    started.elapsed().as_secs_f64()
                );
                both.logins
            }
            None => Vec::new(),
        }
    } else {
        match scheduler::demo_today::seed_today(&store, options, &hash)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            Some(summary) => {
                crate::cli_units::print_demo(&summary, started.elapsed());
                summary.logins
            }
            None => Vec::new(),
        }
    };
    let app = Application::with_store(settings, store).await?;
    if let Some(tls) = &tls {
        println!("{}", crate::demo_tls::how_to_trust(tls));
    }
    println!("Hoinghi demo: {}/", app.public_base());
    if logins.is_empty() {
        println!(
            "(dữ liệu demo đã có sẵn trong {} / demo data already loaded)",
            data_dir.display()
        );
    } else {
        println!(
            "Đăng nhập / logins (mật khẩu / password: {}):",
            if password == DEMO_PASSWORD {
                DEMO_PASSWORD
            } else {
                "as set"
            }
        );
        for l in logins {
            println!("  {:<18} {:<12} {}", l.username, l.role, l.display_name);
        }
    }
    app.run_until_stopped().await
}
