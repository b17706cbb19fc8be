//! The `sous` command: parses arguments, sets up logging, and hands over to the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use sous::Application;
use sous::config::{LogFormat, Roles, Settings};
use sous::labels::{Format, LabelTree, PdfOptions, Renderer, templates};

/// sous runs the back-kitchen pipelines of a food and commerce platform: meal-photo
/// classification, delivery labels, ads, images and bulk ingest, in one binary.
///
/// With no configuration it runs embedded: SQLite in data/, objects in data/objects/, jobs and
/// cache in process. Set SOUS_DATABASE_URL, SOUS_REDIS_URL and SOUS_STORE_URL to run on
/// PostgreSQL, Redis and S3; see the README for every setting.
#[derive(Debug, Parser)]
#[command(name = "sous", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: the HTTP API, the job workers and the scheduler (or some of them).
    Serve {
        /// Roles to run, comma-separated: api (HTTP), worker (background jobs), scheduler
        /// (periodic work). Replicas in production usually run one role each.
        #[arg(long, env = "SOUS_ROLES", value_parser = parse_roles, default_value = "api,worker,scheduler")]
        roles: Roles,
    },
    /// Apply database migrations, then exit (run this before starting new replicas).
    Migrate,
    /// Print a development bearer token signed with this deployment's signing key.
    Token {
        /// Subject: the user or service the token stands for.
        #[arg(long)]
        sub: String,
        /// A scope to grant (repeatable), e.g. --scope admin.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30m, 12h, 7d.
        #[arg(long, default_value = "12h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Print a one-time console sign-in link (valid 5 minutes) instead of the token.
        #[arg(long)]
        login: bool,
    },
    /// Delivery labels, without a server or a database.
    Labels {
        #[command(subcommand)]
        command: LabelsCommand,
    },
    /// Ads: the ingredient table.
    Ads {
        #[command(subcommand)]
        command: AdsCommand,
    },
    /// Images: URLs of transformed pictures.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Classify every photo of a folder as a meal or not, with the model of SOUS_MODEL_DIR;
    /// with food/ and nonfood/ subfolders, also print accuracy, precision and recall.
    ClassifyDir {
        /// The folder of photos.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ImagesCommand {
    /// Print the URL of an image transformed as asked, signed when SOUS_IMAGES__SIGN_URLS is
    /// on (with the first of SOUS_IMAGES_URL_KEYS).
    Url(ImageUrl),
}

#[derive(Debug, Args)]
struct ImageUrl {
    /// The image id.
    id: String,
    #[arg(long)]
    w: Option<u32>,
    #[arg(long)]
    h: Option<u32>,
    #[arg(long)]
    dpr: Option<String>,
    /// inside, contain, cover or fill.
    #[arg(long)]
    fit: Option<String>,
    /// auto, jpeg, webp, avif or png.
    #[arg(long)]
    format: Option<String>,
    #[arg(long)]
    q: Option<u8>,
}

#[derive(Debug, Subcommand)]
enum AdsCommand {
    /// Add or change the rows of the ingredient table from a CSV (columns normalized_name,
    /// written_name, concept_id; UTF-8 or CP932), in the database and the cache store.
    ImportIngredients {
        /// The CSV file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LabelsCommand {
    /// Render a label from a template and its data, or from a label tree.
    Render(RenderLabel),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["template", "tree"])))]
struct RenderLabel {
    /// A template's name, e.g. order-item or shipping-box.
    #[arg(long, requires = "data")]
    template: Option<String>,
    /// The template's data: a JSON file.
    #[arg(long, requires = "template")]
    data: Option<PathBuf>,
    /// A label tree (`{"type": "sheet", ...}`): a JSON file, instead of a template.
    #[arg(long)]
    tree: Option<PathBuf>,
    /// escpos, html, pdf or text.
    #[arg(long)]
    format: Format,
    /// Where to write the label; standard output by default.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn parse_roles(s: &str) -> Result<Roles, String> {
    s.parse()
}

fn render_label(args: RenderLabel, settings: &Settings) -> anyhow::Result<()> {
    let tree = match (args.template, args.data, args.tree) {
        (Some(template), Some(data), None) => {
            templates::render_template(&template, read_json(&data)?)?
        }
        (None, None, Some(tree)) => LabelTree::from_json_value(read_json(&tree)?)
            .with_context(|| format!("{} is not a printable label", tree.display()))?,
        _ => anyhow::bail!("give --template with --data, or --tree"),
    };
    let renderer = Renderer::new(PdfOptions {
        font_path: settings.labels.font_path.clone(),
    });
    let rendered = renderer.render(&tree, args.format)?;
    for s in &rendered.substitutions {
        let replacement = s
            .replacement
            .map_or("nothing".to_string(), |c| format!("`{c}`"));
        eprintln!(
            "note: `{}` at {} (character {}) prints as {replacement}",
            s.original, s.path, s.offset
        );
    }
    match args.output {
        Some(path) => std::fs::write(&path, &rendered.bytes)
            .with_context(|| format!("cannot write {}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(&rendered.bytes)
            .context("cannot write to standard output"),
    }
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SOUS_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,apalis_core=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler can be installed");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
    tracing::info!("shutdown requested");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    sous::install_crypto_provider();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain, without a backtrace: this is read by whoever started sous.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    init_tracing(settings.log_format);

    match cli.command {
        Command::Serve { roles } => {
            settings.roles = roles;
            let app = Application::build(settings).await?;
            if let Some(port) = app.port() {
                tracing::info!(port, "listening");
            }
            app.run_until(shutdown_signal()).await
        }
        Command::Migrate => {
            let db = sous::platform::db::connect(&settings).await?;
            sous::platform::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ClassifyDir { dir } => {
            let classification = &settings.classification;
            let classifier =
                sous::classification::load(&settings.model_dir, classification.threads)
                    .map_err(anyhow::Error::msg)?;
            let limits = settings.images.limits();
            let mut out = std::io::stdout().lock();
            sous::classification::evaluate::classify_dir(&classifier, &dir, &limits, &mut out)?;
            Ok(())
        }
        Command::Token {
            sub,
            scopes,
            ttl,
            login,
        } => {
            let key = sous::platform::auth::signing_key(&settings)?;
            let auth = sous::platform::auth::Auth::new(&settings, &key)?;
            let token = auth
                .issue(&sub, &scopes, ttl)
                .context("cannot issue a token")?;
            if login {
                login_link(settings, &sub, &scopes, ttl).await
            } else {
                println!("{token}");
                Ok(())
            }
        }
        Command::Labels {
            command: LabelsCommand::Render(args),
        } => render_label(args, &settings),
        Command::Ads {
            command: AdsCommand::ImportIngredients { file },
        } => import_ingredients(&file, settings).await,
        Command::Images {
            command: ImagesCommand::Url(args),
        } => image_url(args, settings).await,
    }
}

/// An application with no role: the connections, for a command that needs them once. It runs
/// no jobs, so its queue is in memory: a server running on the same embedded files keeps
/// its own to itself.
async fn without_roles(mut settings: Settings) -> anyhow::Result<Application> {
    settings.roles = Roles {
        api: false,
        worker: false,
        scheduler: false,
    };
    settings.jobs.url = Some("sqlite::memory:".into());
    Application::build(settings).await
}

/// Stores a one-time code and prints the console link that trades it for a token.
async fn login_link(
    settings: Settings,
    subject: &str,
    scopes: &[String],
    ttl: Duration,
) -> anyhow::Result<()> {
    let mut link = settings.public_url.join("admin/")?;
    let app = without_roles(settings).await?;
    let code = sous::platform::auth::login::create(&app.platform().db, subject, scopes, ttl)
        .await
        .context("cannot store the sign-in code")?;
    link.set_fragment(Some(&format!("login={code}")));
    println!("{link}");
    eprintln!(
        "Open it within {} to sign in as {subject}; it works once.",
        humantime::format_duration(sous::platform::auth::login::CODE_TTL)
    );
    Ok(())
}

async fn image_url(args: ImageUrl, settings: Settings) -> anyhow::Result<()> {
    let query: Vec<String> = [
        ("w", args.w.map(|v| v.to_string())),
        ("h", args.h.map(|v| v.to_string())),
        ("dpr", args.dpr),
        ("fit", args.fit),
        ("format", args.format),
        ("q", args.q.map(|v| v.to_string())),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| format!("{name}={v}")))
    .collect();
    let query = query.join("&");
    // Checked as the server will check it, so a bad parameter fails here, not in a browser.
    sous::images::transform::TransformSpec::parse(&query)
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.field()))?;
    let app = without_roles(settings).await?;
    let image = sous::images::find(app.platform(), &args.id)
        .await?
        .with_context(|| format!("there is no image {}", args.id))?;
    println!("{}", sous::images::url(app.platform(), &image, &query));
    Ok(())
}

async fn import_ingredients(file: &Path, settings: Settings) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let app = without_roles(settings).await?;
    let report = sous::ads::ingredients::import(app.platform(), bytes.into()).await?;
    let mut out = std::io::stdout().lock();
    for error in &report.errors {
        writeln!(
            out,
            "line {} {}: {}",
            error.line, error.column, error.message
        )?;
    }
    writeln!(
        out,
        "{} rows applied, {} refused ({:?}); the table has {} rows",
        report.applied,
        report.errors.len(),
        report.encoding,
        report.table_rows
    )?;
    Ok(())
}
