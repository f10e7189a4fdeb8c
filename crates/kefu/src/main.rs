//! The `kefu` binary: command line, configuration, the composition root that wires a store, the
//! live hub and the HTTP router together, and graceful shutdown. No business rules live here.

mod demo;
mod demo_aftersales;
mod demo_cards;
mod demo_kpi;
mod eval;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kefu_core::model::{NewUser, Role};
use kefu_core::store::Store;
use kefu_http::{AppState, Limits};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kefu",
    version,
    about = "kefu — customer service for e-commerce shops"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Where kefu keeps its data (the SQLite database, later uploads and the search index).
    #[arg(long, env = "KEFU_DATA_DIR", default_value = "./kefu-data")]
    data_dir: PathBuf,
    /// `sqlite://PATH` (default: kefu.db inside the data dir) or `postgres://…`.
    #[arg(long, env = "KEFU_DATABASE_URL")]
    database_url: Option<String>,
    /// How long to keep trying at start-up while PostgreSQL cannot be reached (seconds).
    #[arg(long, env = "KEFU_DATABASE_WAIT", default_value_t = 60)]
    database_wait: u64,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEFU_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Login attempts allowed per client address and minute.
    #[arg(long, env = "KEFU_LOGIN_PER_MINUTE", default_value_t = Limits::default().login_per_minute)]
    login_per_minute: u32,
    /// New shopper sessions allowed per client address and minute.
    #[arg(long, env = "KEFU_SESSIONS_PER_MINUTE", default_value_t = Limits::default().sessions_per_minute)]
    sessions_per_minute: u32,
    /// Messages allowed per shopper and minute.
    #[arg(long, env = "KEFU_VISITOR_MESSAGES_PER_MINUTE", default_value_t = Limits::default().visitor_messages_per_minute)]
    visitor_messages_per_minute: u32,
    /// Shopper messages allowed per client address and minute (all its sessions together).
    #[arg(long, env = "KEFU_ADDRESS_MESSAGES_PER_MINUTE", default_value_t = Limits::default().address_messages_per_minute)]
    address_messages_per_minute: u32,
    /// Reverse proxies (addresses or CIDR blocks, comma-separated, e.g. `10.0.0.0/8,::1`) whose
    /// `X-Forwarded-For` / `X-Real-IP` name the real client for rate limits. Empty: none.
    #[arg(long, env = "KEFU_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<kefu_http::client_ip::Cidr>,
    /// Seconds a client may take to send a request's head; also how long a kept-alive
    /// connection may sit idle.
    #[arg(long, env = "KEFU_HEADER_READ_TIMEOUT", default_value_t = Limits::default().header_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=600))]
    header_read_timeout: u64,
    /// Open connections (WebSockets included) allowed per client address; 0 = no cap. Trusted
    /// proxies are exempt.
    #[arg(long, env = "KEFU_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Limits::default().max_connections_per_address)]
    max_connections_per_address: usize,
    /// Days without a page view after which a shopper's visitor token no longer works.
    #[arg(long, env = "KEFU_VISITOR_TOKEN_IDLE_DAYS", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    visitor_token_idle_days: u64,
    /// Days after which a shopper's visitor token is replaced on their next page view.
    #[arg(long, env = "KEFU_VISITOR_TOKEN_ROTATE_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    visitor_token_rotate_days: u64,
    /// Minutes without a request after which an agent's session ends; 0 = only the 30-day limit.
    #[arg(long, env = "KEFU_SESSION_IDLE_MINUTES", default_value_t = 0)]
    session_idle_minutes: u64,
    /// Mark the session cookie Secure (serve behind HTTPS).
    #[arg(long, env = "KEFU_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Hour (UTC, 0-23) of the daily full segment recompute; the default 20 is 04:00 in China.
    #[arg(long, env = "KEFU_SEGMENTS_DAILY_HOUR_UTC", default_value_t = 20,
          value_parser = clap::value_parser!(u8).range(0..24))]
    segments_daily_hour_utc: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Run the server with a demo shop (agents, products, shoppers, past conversations).
    Demo {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Run the database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage shops (tenants).
    Shop {
        #[command(subcommand)]
        command: ShopCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Customer segmentation (RFM, tiers, groups, churn risk).
    Segments {
        #[command(subcommand)]
        command: SegmentsCommand,
    },
    /// Import commerce data.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Rebuild the full-text search index (`<data-dir>/search/`) from the database. Stop the
    /// server first (a running server holds the index; this refuses then). A server also rebuilds
    /// a missing or corrupt index by itself at start-up.
    Reindex {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Offline evaluations.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Rank the candidates of JSON-lines items with the reply-suggestion engine; print R@1/R@3/R@5/MRR
    /// next to plain BM25 on the same items.
    Suggestions(eval::SuggestionsArgs),
}

#[derive(Subcommand)]
enum SegmentsCommand {
    /// Recompute every customer's segments and the shop's thresholds (e.g. nightly from cron, so
    /// recency and churn risk follow the calendar).
    Recompute {
        /// The shop's slug (default: every shop).
        #[arg(long)]
        shop: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import orders from a CSV file (one row per order line; columns in docs/API.md). Bad rows are
    /// reported with their line numbers; good orders are kept; re-importing creates no duplicates.
    Orders {
        /// The CSV file.
        file: PathBuf,
        /// The shop's slug (default: the default shop).
        #[arg(long)]
        shop: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ShopCommand {
    /// Add a shop.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account; the password is read from standard input (never from the command line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, supervisor or agent
        #[arg(long)]
        role: String,
        /// The shop's slug (default: the default shop).
        #[arg(long)]
        shop: Option<String>,
        /// The team's name inside the shop.
        #[arg(long)]
        team: Option<String>,
        /// Read the password from standard input (required).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// mimalloc instead of glibc's malloc: glibc gives each thread that allocates under contention an
/// arena of its own (up to 8 per core) and rarely returns their free memory, which took the
/// server's RSS with 5,000 sockets from about 230 MB to over 340 MB (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEFU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line for people; no backtrace for an ordinary mistake.
            eprintln!("kefu: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Eval {
            command: EvalCommand::Suggestions(args),
        } => eval::suggestions(args),
        Command::Serve { store: args, serve } => {
            let store = open_store(&args).await?;
            store.ensure_default_shop().await?;
            serve_http(store, &args.data_dir, serve, None, None).await
        }
        Command::Demo { store: args, serve } => {
            let store = open_store(&args).await?;
            store.ensure_default_shop().await?;
            let banner = demo::seed(store.as_ref(), serve.listen).await?;
            let demo_shop = demo_cards::demo_shop(store.as_ref()).await?;
            serve_http(store, &args.data_dir, serve, Some(banner), demo_shop).await
        }
        Command::Reindex { store: args } => {
            let store = open_store(&args).await?;
            let dir = args.data_dir.join("search");
            let started = std::time::Instant::now();
            let analyzer = Arc::new(kefu_search::Analyzer::new());
            let docs = kefu_service::search::reindex(store, &dir, analyzer)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!(
                "search index rebuilt in {}: {docs} documents in {:.1} s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Migrate { store } => {
            let store = open_store(&store).await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Shop {
            command: ShopCommand::Create { slug, name, store },
        } => {
            validate_slug(&slug)?;
            let store = open_store(&store).await?;
            store.ensure_default_shop().await?;
            if name.trim().is_empty() {
                bail!("the shop name must not be empty");
            }
            let shop = store
                .create_shop(&slug, name.trim())
                .await
                .map_err(|e| match e.code {
                    kefu_core::ErrorCode::Conflict => {
                        anyhow::anyhow!("a shop with slug '{slug}' already exists")
                    }
                    _ => anyhow::anyhow!("{e}"),
                })?;
            println!("created shop {} ({}) id={}", shop.slug, shop.name, shop.id);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    role,
                    shop,
                    team,
                    password_stdin,
                    store,
                },
        } => {
            if !password_stdin {
                bail!("pass --password-stdin and send the password on standard input");
            }
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            if !email.contains('@') {
                bail!("'{email}' is not an e-mail address");
            }
            // The first admin's password meets the same policy as every password chosen later.
            kefu_core::members::check_password("password", &password, &email)
                .map_err(|e| anyhow::anyhow!("the password {}", e.message))?;
            let store = open_store(&store).await?;
            let default = store.ensure_default_shop().await?;
            let shop = match shop {
                Some(slug) => store
                    .shop_by_slug(&slug)
                    .await?
                    .with_context(|| format!("no shop '{slug}'"))?,
                None => default,
            };
            let team_id = match team {
                Some(name) => Some(
                    store
                        .list_teams(shop.id)
                        .await?
                        .into_iter()
                        .find(|t| t.name == name)
                        .with_context(|| format!("no team '{name}' in shop '{}'", shop.slug))?
                        .id,
                ),
                None => None,
            };
            let password_hash = kefu_service::passwords::hash_password(password).await?;
            let user = store
                .create_user(NewUser {
                    shop_id: shop.id,
                    email,
                    name,
                    role,
                    team_id,
                    password_hash,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created {} {} <{}> in shop {}",
                user.role.as_str(),
                user.name,
                user.email,
                shop.slug
            );
            Ok(())
        }
        Command::Segments {
            command: SegmentsCommand::Recompute { shop, store },
        } => {
            let store = open_store(&store).await?;
            store.ensure_default_shop().await?;
            recompute_segments(store.as_ref(), shop).await
        }
        Command::Import {
            command: ImportCommand::Orders { file, shop, store },
        } => import_orders_cli(file, shop, store).await,
    }
}

async fn recompute_segments(store: &dyn Store, shop: Option<String>) -> Result<()> {
    let shops = match shop {
        Some(slug) => vec![
            store
                .shop_by_slug(&slug)
                .await?
                .with_context(|| format!("no shop '{slug}'"))?,
        ],
        None => {
            let mut shops = Vec::new();
            for id in store.segmented_shops().await? {
                shops.extend(store.shop_by_id(id).await?);
            }
            shops
        }
    };
    for shop in shops {
        let report = store
            .recompute_shop(shop.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "shop {}: segments of {} customers recomputed in {} ms",
            shop.slug, report.customers, report.took_ms
        );
    }
    Ok(())
}

/// `kefu import orders`: streams the file through the same importer as `POST /orders/import`.
async fn import_orders_cli(file: PathBuf, shop: Option<String>, store: StoreArgs) -> Result<()> {
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let store = open_store(&store).await?;
    let default = store.ensure_default_shop().await?;
    let shop = match shop {
        Some(slug) => store
            .shop_by_slug(&slug)
            .await?
            .with_context(|| format!("no shop '{slug}'"))?,
        None => default,
    };
    let started = std::time::Instant::now();
    let report = kefu_core::commerce::csv_import::import_orders(
        store.as_ref(),
        shop.id,
        std::io::BufReader::with_capacity(1 << 20, input),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    for b in &report.bad_lines {
        println!(
            "line {}: {}{}: {}",
            b.line,
            if b.order_no.is_empty() {
                String::new()
            } else {
                format!("order {} ", b.order_no)
            },
            b.field,
            b.message
        );
    }
    if report.bad_lines_omitted > 0 {
        println!("… and {} more bad lines", report.bad_lines_omitted);
    }
    println!(
        "imported {} into shop {} in {:.1}s: {} rows, {} orders: {} created, {} updated, {} unchanged, {} rejected; {} customers touched",
        file.display(),
        shop.slug,
        started.elapsed().as_secs_f64(),
        report.rows,
        report.orders,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected,
        report.touched_customer_ids.len()
    );
    if !report.touched_customer_ids.is_empty() {
        // Segments follow the orders (a full pass when many customers changed).
        let started = std::time::Instant::now();
        let segments = store
            .recompute_customers(shop.id, &report.touched_customer_ids)
            .await
            .map_err(|e| anyhow::anyhow!("segments: {}", e.message))?;
        println!(
            "segments recomputed for {} customers in {:.1}s",
            segments.customers,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn validate_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 40
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        bail!("a slug is 1-40 characters of a-z, 0-9 and '-'");
    }
    Ok(())
}

/// Picks the backend from the database URL: PostgreSQL for `postgres://`, SQLite otherwise.
async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>> {
    let store = open_backend(args).await?;
    // A large order import cut short (a crash, a kill) may have left the store prepared for it
    // (SQLite: `orders` without its secondary indexes): finish that before anything reads.
    store
        .end_bulk_import()
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(store)
}

async fn open_backend(args: &StoreArgs) -> Result<Arc<dyn Store>> {
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("kefu.db").display()));
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(open_postgres(&url, args.database_wait).await?))
    } else if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
        let store = kefu_store::SqliteStore::open(&url)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Arc::new(store))
    } else {
        bail!("unsupported database URL (use sqlite://… or postgres://…)")
    }
}

/// Opens PostgreSQL, waiting up to `wait_seconds` while it cannot be reached (a database that
/// starts after kefu, a fail-over), and saying plainly what is unreachable; any other failure
/// (bad credentials, a failed migration) stops at once.
async fn open_postgres(url: &str, wait_seconds: u64) -> Result<kefu_store::PostgresStore> {
    let place = database_place(url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_seconds);
    let mut pause = std::time::Duration::from_millis(500);
    loop {
        match kefu_store::PostgresStore::open(url).await {
            Ok(store) => return Ok(store),
            Err(e) if e.code == kefu_core::ErrorCode::Unavailable => {
                let cause = e.source.as_ref().map(|s| s.to_string()).unwrap_or_default();
                if std::time::Instant::now() + pause > deadline {
                    bail!(
                        "PostgreSQL at {place} cannot be reached ({cause}); gave up after {wait_seconds} s. \
                         Check that it runs and that --database-url / KEFU_DATABASE_URL points at it."
                    );
                }
                tracing::warn!(%place, %cause, retry_in_ms = pause.as_millis() as u64, "PostgreSQL cannot be reached yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => bail!("PostgreSQL at {place}: {e}"),
        }
    }
}

/// `host:port/database` of a database URL, without the user or password, for messages.
fn database_place(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

async fn serve_http(
    store: Arc<dyn Store>,
    data_dir: &std::path::Path,
    args: ServeArgs,
    banner: Option<String>,
    demo_shop: Option<kefu_service::demo::DemoShop>,
) -> Result<()> {
    let limits = Limits {
        login_per_minute: args.login_per_minute,
        sessions_per_minute: args.sessions_per_minute,
        visitor_messages_per_minute: args.visitor_messages_per_minute,
        address_messages_per_minute: args.address_messages_per_minute,
        trusted_proxies: args.trusted_proxies.clone(),
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        max_connections_per_address: args.max_connections_per_address,
        lifetimes: kefu_http::sessions::Lifetimes {
            visitor_idle: Duration::from_secs(args.visitor_token_idle_days * 24 * 3600),
            visitor_rotate_after: Duration::from_secs(args.visitor_token_rotate_days * 24 * 3600),
            agent_idle: (args.session_idle_minutes > 0)
                .then(|| Duration::from_secs(args.session_idle_minutes * 60)),
        },
    };
    raise_descriptor_limit();
    let backend = store.backend();
    kefu_service::jobs::spawn_daily_segment_recompute(store.clone(), args.segments_daily_hour_utc);
    // The index opens (or rebuilds itself from the database) in the background; search answers
    // "rebuilding" meanwhile, everything else is served at once.
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    // One analyzer (jieba's dictionary, tens of megabytes) for search and suggestions.
    let analyzer = Arc::new(kefu_search::Analyzer::new());
    // The composition root: the hub is the event sink of every service.
    let hub = kefu_http::hub::Hub::new();
    let mut services = kefu_service::Services::new(
        store.clone(),
        hub.clone(),
        kefu_service::ServicesConfig {
            suggestions: Some(kefu_service::suggest::SuggestConfig::default()),
            ..Default::default()
        },
    );
    services.search = Some(kefu_service::search::SearchService::start(
        store,
        data_dir.join("search"),
        analyzer.clone(),
    ));
    if let Some(suggest) = &services.suggest {
        suggest.share_analyzer(analyzer);
    }
    // Wakes snoozed conversations when their time comes (and at once for any due while down).
    kefu_service::tools::spawn_snooze_waker(&services.tools);
    let mut state = AppState::new(services, hub, &limits);
    state.secure_cookies = args.secure_cookies;
    // Only `kefu demo` enables the demo page's login and ordering endpoints.
    state.demo = demo_shop.map(Arc::new);
    state.attachments = Some(Arc::new(
        kefu_http::attachments::AttachmentFiles::open(data_dir).with_context(|| {
            format!(
                "cannot create the attachment directory in {}",
                data_dir.display()
            )
        })?,
    ));
    // Delivers queued mail (ticket replies to shoppers) through each shop's SMTP server.
    kefu_service::mail::spawn_sender(&state.services.mail);
    // Fires SLA warnings and breach escalations (exactly once per clock, whatever number of nodes).
    kefu_service::escalation::spawn_escalation(&state.services.escalation);
    let app = kefu_http::router(state);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend, console = kefu_web::has_console(), "kefu is listening");
    if let Some(banner) = banner {
        println!("{banner}");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = kefu_http::server::serve(listener, app, &limits, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut stop_rx = stop_rx;
    tokio::select! {
        result = server => result?,
        _ = async {
            // Live sockets would hold a graceful shutdown open forever: give them a few seconds.
            let _ = stop_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => tracing::info!("closing remaining connections"),
    }
    tracing::info!("kefu stopped");
    Ok(())
}

/// Raises this process's open-file limit to the hard limit: every connection and WebSocket holds
/// a descriptor, and the usual soft limit of 1,024 is far below what one server should carry.
fn raise_descriptor_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_validated() {
        assert!(super::validate_slug("acme-2").is_ok());
        assert!(super::validate_slug("").is_err());
        assert!(super::validate_slug("Acme").is_err());
        assert!(super::validate_slug("a b").is_err());
    }
}
