//! The `hoinghi` binary: parses the command line and runs it.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = web::cli::Cli::parse();
    match web::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hoinghi: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
