//! The config gRPC port (`/v1.PolarisConfigGRPC`): file setup shared by the config scenarios,
//! and `config-get`, closed-loop GetConfigFile pulls.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::Args;
use polaris_proto::v1;
use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use tonic::transport::Channel;

use crate::net::{Limit, NAMESPACE, connect};
use crate::report::{Report, is_success};
use crate::unary::closed_loop_report;
use crate::{Common, Mode};

/// The config group every bench file lives in (created with its first file).
pub const GROUP: &str = "bench";
/// The config port's default address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8093";

#[derive(Args, Clone)]
pub struct ConfigGetArgs {
    /// `changed`: the client holds no version, every reply is the file; `unchanged`: it holds
    /// the released version, every reply is 200001.
    #[arg(long, value_enum, default_value_t = Mode::Changed)]
    pub mode: Mode,
    /// Files created, published and read round robin.
    #[arg(long, default_value_t = 1)]
    pub files: usize,
    /// Content size of each file, in bytes.
    #[arg(long, default_value_t = 512)]
    pub content_bytes: usize,
}

#[derive(Args, Clone)]
pub struct WatchersArgs {
    /// WatchConfigFiles long polls kept open.
    #[arg(long, default_value_t = 1_000)]
    pub watchers: usize,
    /// Long polls per HTTP/2 connection; more connections are opened than `--connections` if
    /// needed.
    #[arg(long, default_value_t = 250)]
    pub watchers_per_connection: usize,
}

#[derive(Args, Clone)]
pub struct ConfigWatchArgs {
    #[command(flatten)]
    pub watchers: WatchersArgs,
    /// Publishes to time, one after the other (the watchers park again in between).
    #[arg(long, default_value_t = 3)]
    pub rounds: u64,
    /// Content size of the watched file, in bytes.
    #[arg(long, default_value_t = 512)]
    pub content_bytes: usize,
}

/// A config client on the `i`-th connection (round robin).
pub fn config_client(channels: &[Channel], i: usize) -> PolarisConfigGrpcClient<Channel> {
    PolarisConfigGrpcClient::new(channels[i % channels.len()].clone())
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// Opens `n` connections to the config port (`--addr`, else 8093).
pub async fn config_channels(common: &Common, n: usize) -> Result<Vec<Channel>> {
    connect(common.addr_or(DEFAULT_ADDR), n).await
}

/// A file name unique to this run (files cannot be created twice).
pub fn unique_name(prefix: &str) -> Result<String> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    Ok(format!("{prefix}-{stamp}"))
}

/// What a client sends to read `name` when it holds `version` (0: nothing yet).
pub fn file_info(name: &str, version: u64) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(NAMESPACE.into()),
        group: Some(GROUP.into()),
        file_name: Some(name.into()),
        version: Some(version),
        ..Default::default()
    }
}

/// The publish of `name`'s current content.
pub fn release(name: &str) -> v1::ConfigFileRelease {
    v1::ConfigFileRelease {
        namespace: Some(NAMESPACE.into()),
        group: Some(GROUP.into()),
        file_name: Some(name.into()),
        ..Default::default()
    }
}

/// The Polaris code of a config reply, or the transport error as text.
pub fn config_code(
    reply: Result<tonic::Response<v1::ConfigClientResponse>, tonic::Status>,
) -> Result<u32, String> {
    match reply {
        Ok(reply) => Ok(reply.into_inner().code.unwrap_or(0)),
        Err(status) => Err(format!("gRPC {:?}: {}", status.code(), status.message())),
    }
}

fn check(what: &str, outcome: Result<u32, String>) -> Result<()> {
    match outcome {
        Ok(code) if is_success(code) => Ok(()),
        Ok(code) => bail!("{what}: code {code}"),
        Err(err) => bail!("{what}: {err}"),
    }
}

/// Publishes `name` again (a new version with the same content).
pub async fn publish(client: &mut PolarisConfigGrpcClient<Channel>, name: &str) -> Result<()> {
    let outcome = config_code(client.publish_config_file(release(name)).await);
    check(&format!("publish {name}"), outcome)
}

/// Creates `name` with `bytes` of text content, publishes it, and returns its released version.
pub async fn create_and_publish(
    client: &mut PolarisConfigGrpcClient<Channel>,
    name: &str,
    bytes: usize,
) -> Result<u64> {
    let line = "bench.key = value\n";
    let content: String = line.chars().cycle().take(bytes).collect();
    let file = v1::ConfigFile {
        namespace: Some(NAMESPACE.into()),
        group: Some(GROUP.into()),
        name: Some(name.into()),
        content: Some(content),
        format: Some("properties".into()),
        ..Default::default()
    };
    let created = config_code(client.create_config_file(file).await);
    check(&format!("create {name}"), created)?;
    publish(client, name).await?;
    current_version(client, name).await
}

/// The version a client reading `name` from scratch gets.
pub async fn current_version(
    client: &mut PolarisConfigGrpcClient<Channel>,
    name: &str,
) -> Result<u64> {
    let reply = client
        .get_config_file(file_info(name, 0))
        .await?
        .into_inner();
    let code = reply.code.unwrap_or(0);
    match reply.config_file.and_then(|f| f.version) {
        Some(version) if code == 200_000 => Ok(version),
        _ => bail!("get {name}: code {code}, no released version"),
    }
}

/// `config-get`: K published files, then GetConfigFile calls round robin over them.
pub async fn config_get(common: &Common, args: &ConfigGetArgs) -> Result<Report> {
    if args.files == 0 {
        bail!("--files must be positive");
    }
    let channels = config_channels(common, common.connections).await?;
    let prefix = unique_name("bench-get")?;
    let mut setup = config_client(&channels, 0);
    let mut files = Vec::with_capacity(args.files);
    for k in 0..args.files {
        let name = format!("{prefix}-{k}");
        let version = create_and_publish(&mut setup, &name, args.content_bytes).await?;
        files.push((name, version));
    }
    eprintln!(
        "config-get: {} files of {} bytes published",
        args.files, args.content_bytes
    );
    let limit = common.limit(Limit::For(std::time::Duration::from_secs(10)))?;
    let scenario = match args.mode {
        Mode::Changed => "config-get full file",
        Mode::Unchanged => "config-get 200001",
    };
    let note = format!(
        "c={} conns={} files={} content={} B",
        common.concurrency, common.connections, args.files, args.content_bytes
    );
    let mode = args.mode;
    closed_loop_report(common, limit, (scenario.into(), note), move |worker, n| {
        let mut client = config_client(&channels, worker);
        let (name, version) = &files[usize::try_from(n).unwrap_or(0) % files.len()];
        let held = match mode {
            Mode::Changed => 0,
            Mode::Unchanged => *version,
        };
        let request = file_info(name, held);
        async move { config_code(client.get_config_file(request).await) }
    })
    .await
}
