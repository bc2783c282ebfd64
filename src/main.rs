//! The `poort` command: serve, check, dev-certs, demo, demo-peers, and the register commands
//! of `poort::cli`.

use clap::{Parser, Subcommand};
use poort::cli;
use poort::config::Config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "poort",
    version,
    about = "Identity broker: levels of assurance, grants, SAML"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run poort.
    Serve {
        #[arg(long, default_value = "config/poort.toml")]
        config: PathBuf,
    },
    /// Validate config, keys, metadata, the service catalogue and the grants file.
    Check {
        #[arg(long, default_value = "config/poort.toml")]
        config: PathBuf,
    },
    /// Make development keys and certificates (never for production).
    DevCerts {
        #[arg(long, default_value = "certs-dev")]
        dir: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Run poort with a demo service provider and a development identity provider.
    Demo {
        #[arg(long, default_value = "config/poort.toml")]
        config: PathBuf,
    },
    /// Run the demo DV and the development AD on their own, beside a poort that runs elsewhere.
    DemoPeers {
        #[command(flatten)]
        args: poort::demo::standalone::Args,
    },
    #[command(flatten)]
    Register(cli::Command),
}

fn main() -> ExitCode {
    poort::install_crypto_provider();
    let cli = Cli::parse();
    // Register commands print results on stdout (CSV, JSON): their logs go to stderr, quieter.
    let register_command = matches!(cli.command, Command::Register(_));
    // `serve` and `demo` set up logs and traces from their config; the other commands log
    // quietly, register commands to standard error (their standard output is their result).
    if !matches!(cli.command, Command::Serve { .. } | Command::Demo { .. }) {
        let log = poort::config::LogConfig {
            level: if register_command { "warn" } else { "info" }.into(),
            ..Default::default()
        };
        let target = if register_command {
            poort::telemetry::LogTarget::Stderr
        } else {
            poort::telemetry::LogTarget::Stdout
        };
        if let Err(e) = poort::telemetry::init(&log, None, target) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Serve { config } => serve(&config),
        Command::Check { config } => check(&config),
        Command::DevCerts { dir, force } => dev_certs(&dir, force),
        Command::Demo { config } => demo(&config),
        Command::DemoPeers { args } => demo_peers(args),
        Command::Register(command) => register(command.run()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("poort: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one register command to its end.
fn register(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(command)?;
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Runs `work` with logs and traces set up from `config` (`[log]`, `[telemetry]`); the spans
/// still queued are sent before returning, whatever `work` came to.
fn with_telemetry(
    config: &Config,
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let telemetry = poort::telemetry::init(
            &config.log,
            Some(&config.telemetry),
            poort::telemetry::LogTarget::Stdout,
        )?;
        let done = work.await;
        telemetry.shutdown();
        done
    })?;
    Ok(ExitCode::SUCCESS)
}

fn serve(path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(path)?;
    with_telemetry(&config.clone(), async move {
        for section in Config::unknown_sections(path) {
            tracing::warn!(file = %path.display(), "unknown section [{section}] is ignored");
        }
        poort::app::prepare_embedded_defaults(&config)?;
        let listen = config.server.listen.clone();
        let state = poort::app::build_state(config).await?;
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        let ops = poort::app::bind_ops(&state.config).await;
        tracing::info!(address = %listen, "poort listening");
        poort::server::run(state, listener, ops, poort::server::termination()).await?;
        tracing::info!("poort stopped");
        Ok(())
    })
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            println!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let findings = runtime()?.block_on(poort::check::check(path, &config));
    let errors = findings.iter().filter(|f| f.error).count();
    for f in &findings {
        let kind = if f.error { "error" } else { "warning" };
        println!("{kind}: {}: {}", f.file.display(), f.message);
    }
    println!(
        "{} error(s), {} warning(s)",
        errors,
        findings.len() - errors
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn dev_certs(dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let made = poort::devcerts::generate(dir, force)?;
    for f in &made {
        println!("wrote {}", f.display());
    }
    if made.is_empty() {
        println!(
            "all development keys already exist in {} (use --force to replace)",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(path)?;
    // run_demo refuses production mode before anything is made or served.
    with_telemetry(&config.clone(), async move {
        poort::app::prepare_embedded_defaults(&config)?;
        poort::app::run_demo(config).await
    })
}

fn demo_peers(args: poort::demo::standalone::Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(poort::demo::standalone::run(args))?;
    Ok(ExitCode::SUCCESS)
}
