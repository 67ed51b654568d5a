//! The `callhost` command: `run` the host, `check` an app, `originate` an outbound call.
//!
//! Configuration is validated before anything binds: a bad config file or flag
//! prints one clear line and exits 64 (EX_USAGE), as does a command-line syntax error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use callhost::config::{Config, Overrides};
use callhost::server;

/// EX_USAGE from sysexits.h: the command was used incorrectly (bad config).
const EXIT_USAGE: u8 = 64;
/// EX_DATAERR: the input file is not a valid app.
const EXIT_DATA: u8 = 65;

#[derive(Parser)]
#[command(
    name = "callhost",
    version,
    about = "A telephony application server running call logic in WebAssembly"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: SIP on --sip-listen, apps from --plugins (hot-reloaded).
    Run {
        /// SIP address for UDP and TCP [default: 127.0.0.1:5060].
        #[arg(long, value_name = "ADDR:PORT")]
        sip_listen: Option<String>,
        /// The watched plugins directory [default: plugins].
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
        /// The media root; app X reads files from DIR/X/ [default: media].
        #[arg(long, value_name = "DIR")]
        media: Option<PathBuf>,
        /// RTP port range [default: 20000-29999].
        #[arg(long, value_name = "LO-HI")]
        rtp_ports: Option<String>,
        /// TOML configuration file (flags override it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Load an app component and print its name, version and exports, or why it is not a valid app.
    Check {
        /// The component file.
        file: PathBuf,
    },
    /// Ask a running host (its admin API) to start an outbound app instance; print its id.
    Originate(callhost::originate::OriginateArgs),
}

/// What is logged unless CALLHOST_LOG says otherwise: calls and apps at info, the
/// SIP stack's per-packet chatter and the compiler's internals only when they warn.
const DEFAULT_LOG_FILTER: &str = "info,rsipstack=warn,cranelift=warn,wasmtime=warn";

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLHOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors; usage errors exit EX_USAGE, not clap's 2.
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging();
    match cli.command {
        Command::Run {
            sip_listen,
            plugins,
            media,
            rtp_ports,
            config,
        } => {
            let overrides = Overrides {
                sip_listen,
                plugins,
                media,
                rtp_ports,
            };
            let config = match Config::load(config.as_deref(), &overrides) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("callhost: {error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let Some(tokio) = async_runtime() else {
                return ExitCode::FAILURE;
            };
            match tokio.block_on(server::run(config, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("callhost: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { file } => match async_runtime() {
            Some(tokio) => tokio.block_on(check(file)),
            None => ExitCode::FAILURE,
        },
        Command::Originate(args) => callhost::originate::main(args),
    }
}

fn async_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new()
        .map_err(|error| eprintln!("callhost: cannot start the async runtime: {error}"))
        .ok()
}

async fn check(file: PathBuf) -> ExitCode {
    let runtime = match callhost_runtime::Runtime::new(callhost_runtime::RuntimeConfig {
        max_concurrent_calls: 4,
        cache_dir: None,
        ..callhost_runtime::RuntimeConfig::default()
    }) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("callhost: cannot start the Wasm runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match callhost_runtime::check(&runtime, &file).await {
        Ok(info) => {
            println!("file:    {}", file.display());
            println!("name:    {}", info.name);
            println!("version: {}", info.version);
            println!("exports: {}", info.exports.join(", "));
            println!("imports: {}", info.imports.join(", "));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "callhost: {} is not a valid callhost app: {error}",
                file.display()
            );
            ExitCode::from(EXIT_DATA)
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match &mut terminate { Some(signal) => { signal.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("shutdown requested");
}
