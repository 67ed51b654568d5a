//! Configuration: the TOML file, the command-line overrides, and validation.
//!
//! Everything here is checked before the host binds a socket or loads a plugin
//! (mini-redis / linkerd style): `main` turns a [`ConfigError`] into exit code 64
//! (EX_USAGE) with a message that names the offending setting.
//!
//! Depends on serde/toml (and [`crate::admin::AdminConfig`], a plain struct). No SIP,
//! media or Wasm types.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callhost_media::Codec;
use serde::Deserialize;

use crate::admin::AdminConfig;

/// A configuration problem, reported before anything is bound.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the line and the key).
        message: String,
    },
    /// A setting has a value the host cannot use.
    #[error("invalid setting `{setting}`: {message}")]
    Invalid {
        /// The setting, as written in the file or on the command line.
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Codec names in preference order; an empty list or an unknown name is an error message.
fn parse_codecs(names: &[String]) -> Result<Vec<Codec>, String> {
    if names.is_empty() {
        return Err("name at least one codec".into());
    }
    names
        .iter()
        .map(|name| {
            Codec::from_name(name).ok_or_else(|| {
                format!("`{name}` is not a codec this host has (PCMU, PCMA, G722, OPUS)")
            })
        })
        .collect()
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

/// The file format (`callhost.toml`). Every field is optional; defaults make the
/// host run on 127.0.0.1:5060 with `plugins/` and `media/`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[sip]`
    #[serde(default)]
    pub sip: SipSection,
    /// `[media]`
    #[serde(default)]
    pub media: MediaSection,
    /// `[plugins]`
    #[serde(default)]
    pub plugins: PluginsSection,
    /// `[limits]`
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[accounts.<id>]`: SIP accounts the host registers (seed 004).
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountSection>,
    /// `[calls]`: outbound calls and extra channels.
    #[serde(default)]
    pub calls: CallsSection,
    /// `[services.<name>]`: explicit service → app mappings.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSection>,
    /// `[admin]`
    #[serde(default)]
    pub admin: AdminSection,
    /// `[tts]`: text to speech for `say`.
    pub tts: Option<crate::tts::TtsSection>,
}

impl FileConfig {
    /// Read and parse a config file (no validation beyond the schema).
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str::<FileConfig>(&text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }
}

/// `[admin]` section: the admin HTTP API (`POST /calls`, `GET /health`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// `enabled = true`
    pub enabled: Option<bool>,
    /// `listen = "127.0.0.1:8089"`; `""` disables the API.
    pub listen: Option<String>,
    /// `token = "..."`: bearer token required from non-loopback clients.
    pub token: Option<String>,
}

impl AdminSection {
    /// Validate: `None` when the API is disabled. Warns (it is not an error) when the
    /// API listens beyond loopback without a token, since every remote request would
    /// then be refused.
    pub fn validate(self) -> Result<Option<AdminConfig>, ConfigError> {
        let listen_text = self
            .listen
            .unwrap_or_else(|| crate::admin::DEFAULT_LISTEN.into());
        if self.enabled == Some(false) || listen_text.is_empty() {
            return Ok(None);
        }
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "admin.listen",
                format!("`{listen_text}` is not an IP:PORT address"),
            )
        })?;
        if let Some(token) = &self.token
            && (token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()))
        {
            return Err(invalid(
                "admin.token",
                "the token must be non-empty printable ASCII without spaces",
            ));
        }
        if !listen.ip().to_canonical().is_loopback() && self.token.is_none() {
            tracing::warn!(
                admin.listen = %listen,
                "the admin API listens beyond loopback but [admin] token is not set: requests from other hosts will all be refused"
            );
        }
        Ok(Some(AdminConfig {
            listen,
            token: self.token,
        }))
    }
}

/// The `[admin]` settings of a config file alone (for `callhost originate --config`,
/// which must not require the plugins directory and the rest to be valid).
pub fn admin_from_file(path: &Path) -> Result<Option<AdminConfig>, ConfigError> {
    FileConfig::read(path)?.admin.validate()
}

/// `[calls]` section: how apps place calls.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    /// Extra channels per app instance for outbound legs (0..=3, default 3).
    pub extra_channels: Option<u32>,
    /// The From identity of calls whose app names none (a SIP URI); default
    /// `sip:callhost@<sip address>`.
    pub from: Option<String>,
    /// Send every outbound INVITE through this proxy (a SIP URI); needed for `tel:`.
    pub outbound_proxy: Option<String>,
}

/// `[accounts.<id>]`: one SIP account (seeds 002 and 004).
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// The registrar's URI (`sip:registrar.example.com`); none: the account does not register.
    pub registrar: Option<String>,
    /// Address of record (`sip:alice@example.com`); default `sip:<id>@<registrar host>`.
    pub aor: Option<String>,
    /// Digest user name; default: the AOR's user.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// Only answer challenges from this realm.
    pub realm: Option<String>,
    /// Requested registration lifetime in seconds (default 3600).
    pub expires: Option<u32>,
    /// Send REGISTER and this account's calls through this proxy.
    pub outbound_proxy: Option<String>,
    /// The user part of our Contact (default the account id); "" registers a userless
    /// contact that identifies the host by its transport address.
    pub contact_user: Option<String>,
    /// The app serving calls to this account's contact (default: the account id).
    pub app: Option<String>,
    /// Application parameters for those calls.
    #[serde(default)]
    pub parameters: String,
}

/// A validated account. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id (the `[accounts.<id>]` key).
    pub id: String,
    /// Registrar URI, when it registers.
    pub registrar: Option<String>,
    /// Address of record.
    pub aor: String,
    /// Digest user name.
    pub username: String,
    /// Digest password (never logged).
    pub password: Option<String>,
    /// Realm restriction.
    pub realm: Option<String>,
    /// Requested registration lifetime.
    pub expires: Duration,
    /// Proxy for REGISTER and calls.
    pub outbound_proxy: Option<String>,
    /// Contact user; empty for a userless contact.
    pub contact_user: String,
    /// App for calls to the contact.
    pub app: String,
    /// Their application parameters.
    pub parameters: String,
}

impl std::fmt::Debug for AccountSection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AccountSection")
            .field("registrar", &self.registrar)
            .field("aor", &self.aor)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Account")
            .field("id", &self.id)
            .field("registrar", &self.registrar)
            .field("aor", &self.aor)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("contact_user", &self.contact_user)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl AccountSection {
    fn validate(self, id: &str) -> Result<Account, ConfigError> {
        let sip_uri = |text: &str| {
            (text.starts_with("sip:") || text.starts_with("sips:"))
                && !text.contains(char::is_whitespace)
        };
        if let Some(registrar) = &self.registrar
            && !sip_uri(registrar)
        {
            return Err(invalid(
                "accounts.registrar",
                format!("account `{id}`: `{registrar}` is not a sip: URI"),
            ));
        }
        let registrar_host = self
            .registrar
            .as_deref()
            .map(|uri| uri.split_once(':').map(|(_, rest)| rest).unwrap_or(uri))
            .map(|rest| {
                rest.rsplit('@')
                    .next()
                    .unwrap_or(rest)
                    .split([';', '?'])
                    .next()
                    .unwrap_or(rest)
                    .to_owned()
            });
        let aor = match (self.aor, registrar_host) {
            (Some(aor), _) if sip_uri(&aor) && aor.contains('@') => aor,
            (Some(aor), _) => {
                return Err(invalid(
                    "accounts.aor",
                    format!("account `{id}`: `{aor}` is not a sip:user@host URI"),
                ));
            }
            (None, Some(host)) => format!("sip:{id}@{host}"),
            (None, None) => {
                return Err(invalid(
                    "accounts.aor",
                    format!("account `{id}` needs an aor or a registrar"),
                ));
            }
        };
        if let Some(proxy) = &self.outbound_proxy
            && !sip_uri(proxy)
        {
            return Err(invalid(
                "accounts.outbound_proxy",
                format!("account `{id}`: `{proxy}` is not a sip: URI"),
            ));
        }
        let aor_user = aor
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or(&aor)
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        let expires = self.expires.unwrap_or(3600);
        if !(1..=86_400).contains(&expires) {
            return Err(invalid(
                "accounts.expires",
                format!("account `{id}`: {expires} is outside 1..=86400"),
            ));
        }
        let contact_user = self.contact_user.unwrap_or_else(|| id.to_owned());
        if !contact_user.chars().all(is_service_char) {
            return Err(invalid(
                "accounts.contact_user",
                format!(
                    "account `{id}`: `{contact_user}` may use only letters, digits, '-', '_' and '.'"
                ),
            ));
        }
        let app = self.app.unwrap_or_else(|| id.to_owned());
        if app.is_empty() || !app.chars().all(is_service_char) {
            return Err(invalid(
                "accounts.app",
                format!(
                    "account `{id}`: app name `{app}` may use only letters, digits, '-', '_' and '.'"
                ),
            ));
        }
        Ok(Account {
            id: id.to_owned(),
            registrar: self.registrar,
            username: self.username.unwrap_or(aor_user),
            aor,
            password: self.password,
            realm: self.realm,
            expires: Duration::from_secs(expires.into()),
            outbound_proxy: self.outbound_proxy,
            contact_user,
            app,
            parameters: self.parameters,
        })
    }
}

/// Most extra channels an app instance may have (the UAS limit).
pub const MAX_EXTRA_CHANNELS: u32 = 3;

/// `[sip]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// `listen = "127.0.0.1:5060"`: address for UDP and TCP.
    pub listen: Option<String>,
    /// `udp = true`
    pub udp: Option<bool>,
    /// `tcp = true`
    pub tcp: Option<bool>,
    /// `tls_listen = "127.0.0.1:5061"`: turns SIP over TLS on (needs the two files below).
    pub tls_listen: Option<String>,
    /// `tls_certificate = "cert.pem"`: the certificate chain, PEM.
    pub tls_certificate: Option<PathBuf>,
    /// `tls_key = "key.pem"`: its private key, PEM.
    pub tls_key: Option<PathBuf>,
    /// `tls_trust = "ca.pem"`: an extra root certificate for outgoing `sips:` calls.
    pub tls_trust: Option<PathBuf>,
    /// `session_expires = 1800`: the RFC 4028 session interval (seconds) asked
    /// for on calls the host places or answers; 0 asks for none (a peer's wish
    /// is still honoured).
    pub session_expires: Option<u64>,
    /// `min_se = 90`: the shortest session interval accepted (422 below it).
    /// RFC 4028 wants at least 90; smaller values are for tests.
    pub min_se: Option<u64>,
    /// `dns_servers = ["127.0.0.1:53"]`: DNS servers for NAPTR/SRV/A lookups
    /// of host names; none: the system's /etc/resolv.conf.
    pub dns_servers: Option<Vec<String>>,
}

/// `[sip]` settings beyond addresses, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTuning {
    /// Session interval asked for, seconds (0: none).
    pub session_expires: u64,
    /// Min-SE, seconds.
    pub min_se: u64,
    /// DNS servers (empty: the system's).
    pub dns_servers: Vec<SocketAddr>,
}

/// SIP over TLS, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Certificate chain (PEM).
    pub certificate: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// Extra trust anchor (PEM).
    pub trust: Option<PathBuf>,
}

/// `[media]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// `dir = "media"`: media root; each app reads `<dir>/<app>/`.
    pub dir: Option<PathBuf>,
    /// `rtp_ports = "20000-29999"`
    pub rtp_ports: Option<String>,
    /// `ip = "127.0.0.1"`: address RTP binds to and advertises in SDP. Defaults to the SIP address.
    pub ip: Option<String>,
    /// `symmetric_rtp = true`: latch to where RTP really comes from.
    pub symmetric_rtp: Option<bool>,
    /// `codecs = ["PCMU", "PCMA"]`: the host's codecs in preference order
    /// (PCMU, PCMA, G722, OPUS; case-insensitive).
    pub codecs: Option<Vec<String>>,
}

/// `[plugins]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// `dir = "plugins"`: the watched directory.
    pub dir: Option<PathBuf>,
    /// `cache_dir = "plugins/.cache"`: compiled-code cache.
    pub cache_dir: Option<PathBuf>,
}

/// `[limits]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Concurrent calls (the instance pool size).
    pub max_calls: Option<u32>,
    /// Linear memory per app instance, MiB.
    pub memory_mib: Option<u32>,
    /// Guest CPU time per call, seconds.
    pub cpu_seconds: Option<f64>,
    /// Wall-clock limit per call, seconds.
    pub call_seconds: Option<f64>,
    /// Grace period for calls in progress on shutdown, seconds.
    pub drain_seconds: Option<f64>,
}

/// `[services.<name>]`: route calls for `<name>` to an app with parameters.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// Plugin file stem; defaults to the service name.
    pub app: Option<String>,
    /// Passed to the app's `main` as `application-parameters`.
    #[serde(default)]
    pub parameters: String,
    /// Challenge callers with digest authentication in this realm (RFC 3261 §22.2).
    pub auth_realm: Option<String>,
    /// `[services.<name>.users]`: user = "password" for `auth_realm`.
    #[serde(default)]
    pub users: Users,
    /// `codecs = ["PCMA", "PCMU"]`: the codecs this service's calls may use, in
    /// preference order (default: every codec the host has, PCMU first).
    pub codecs: Option<Vec<String>>,
}

/// User names and passwords of a service; `Debug` shows the names only.
#[derive(Default, Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub struct Users(pub BTreeMap<String, String>);

impl std::fmt::Debug for Users {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_list().entries(self.0.keys()).finish()
    }
}

/// Command-line overrides (`callhost run` flags). `None` keeps the file's value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--sip-listen`
    pub sip_listen: Option<String>,
    /// `--plugins`
    pub plugins: Option<PathBuf>,
    /// `--media`
    pub media: Option<PathBuf>,
    /// `--rtp-ports`
    pub rtp_ports: Option<String>,
}

/// A validated configuration, ready to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// SIP over TLS, when configured.
    pub tls: Option<TlsConfig>,
    /// SIP accounts.
    pub accounts: Vec<Account>,
    /// Extra channels per app instance.
    pub extra_channels: u32,
    /// The default From of outbound calls.
    pub default_from: Option<String>,
    /// Proxy for every outbound INVITE.
    pub outbound_proxy: Option<String>,
    /// SIP listen address (UDP and TCP).
    pub sip_listen: SocketAddr,
    /// Listen on UDP.
    pub sip_udp: bool,
    /// Listen on TCP.
    pub sip_tcp: bool,
    /// Session timers and DNS.
    pub sip_tuning: SipTuning,
    /// The plugins directory (exists).
    pub plugins_dir: PathBuf,
    /// Where compiled code is cached.
    pub cache_dir: PathBuf,
    /// The media root.
    pub media_dir: PathBuf,
    /// RTP/RTCP port range.
    pub rtp_ports: RangeInclusive<u16>,
    /// RTP address.
    pub media_ip: IpAddr,
    /// Symmetric RTP.
    pub symmetric_rtp: bool,
    /// The host's codecs in preference order (`[media] codecs`, default PCMU, PCMA).
    pub media_codecs: Vec<Codec>,
    /// Instance pool size.
    pub max_calls: u32,
    /// Memory per instance, bytes.
    pub memory_limit_bytes: usize,
    /// Guest CPU budget per call.
    pub cpu_budget: Duration,
    /// Wall-clock limit per call.
    pub call_limit: Duration,
    /// Drain grace period on shutdown.
    pub drain: Duration,
    /// Explicit services.
    pub services: BTreeMap<String, ServiceSection>,
    /// The admin API, unless disabled.
    pub admin: Option<AdminConfig>,
    /// Text to speech, unless no engine is available.
    pub tts: Option<crate::tts::TtsConfig>,
}

impl Config {
    /// Read `path` (if given), apply `overrides`, validate.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let file = match path {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Config::build(file, overrides)
    }

    /// Validate a parsed file plus overrides.
    pub fn build(file: FileConfig, overrides: &Overrides) -> Result<Config, ConfigError> {
        let listen_text = overrides
            .sip_listen
            .clone()
            .or(file.sip.listen)
            .unwrap_or_else(|| "127.0.0.1:5060".into());
        let sip_listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "sip.listen",
                format!("`{listen_text}` is not an IP:PORT address"),
            )
        })?;
        let sip_udp = file.sip.udp.unwrap_or(true);
        let sip_tcp = file.sip.tcp.unwrap_or(true);
        if !sip_udp && !sip_tcp {
            return Err(invalid(
                "sip.udp/sip.tcp",
                "at least one SIP transport must be enabled",
            ));
        }

        let min_se = file.sip.min_se.unwrap_or(90);
        if min_se == 0 {
            return Err(invalid(
                "sip.min_se",
                "the Min-SE must be at least 1 second (RFC 4028 wants 90)",
            ));
        }
        let session_expires = file.sip.session_expires.unwrap_or(1800);
        if session_expires != 0 && session_expires < min_se {
            return Err(invalid(
                "sip.session_expires",
                format!(
                    "{session_expires} is below sip.min_se ({min_se}); use 0 for no session timer"
                ),
            ));
        }
        let dns_servers = file
            .sip
            .dns_servers
            .unwrap_or_default()
            .iter()
            .map(|text| match text.parse::<SocketAddr>() {
                Ok(address) if address.port() != 0 => Ok(address),
                _ => Err(invalid(
                    "sip.dns_servers",
                    format!("`{text}` is not an IP:PORT address"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sip_tuning = SipTuning {
            session_expires,
            min_se,
            dns_servers,
        };

        let tls = match (
            file.sip.tls_listen,
            file.sip.tls_certificate,
            file.sip.tls_key,
        ) {
            (None, None, None) => None,
            (Some(listen), Some(certificate), Some(key)) => {
                let listen = listen.parse().map_err(|_| {
                    invalid(
                        "sip.tls_listen",
                        format!("`{listen}` is not an IP:PORT address"),
                    )
                })?;
                for (setting, path) in
                    [("sip.tls_certificate", &certificate), ("sip.tls_key", &key)]
                {
                    if !path.is_file() {
                        return Err(invalid(
                            setting,
                            format!("`{}` is not a readable file", path.display()),
                        ));
                    }
                }
                Some(TlsConfig {
                    listen,
                    certificate,
                    key,
                    trust: file.sip.tls_trust,
                })
            }
            _ => {
                return Err(invalid(
                    "sip.tls_listen",
                    "TLS needs tls_listen, tls_certificate and tls_key together",
                ));
            }
        };

        let plugins_dir = overrides
            .plugins
            .clone()
            .or(file.plugins.dir)
            .unwrap_or_else(|| "plugins".into());
        if !plugins_dir.is_dir() {
            return Err(invalid(
                "plugins.dir",
                format!(
                    "`{}` is not a directory (create it and put app .wasm files in it)",
                    plugins_dir.display()
                ),
            ));
        }
        let cache_dir = file
            .plugins
            .cache_dir
            .unwrap_or_else(|| plugins_dir.join(".cache"));

        let media_dir = overrides
            .media
            .clone()
            .or(file.media.dir)
            .unwrap_or_else(|| "media".into());
        if media_dir.exists() && !media_dir.is_dir() {
            return Err(invalid(
                "media.dir",
                format!("`{}` is not a directory", media_dir.display()),
            ));
        }

        let ports_text = overrides
            .rtp_ports
            .clone()
            .or(file.media.rtp_ports)
            .unwrap_or_else(|| "20000-29999".into());
        let rtp_ports = parse_port_range(&ports_text)?;

        let media_ip = match file.media.ip {
            Some(text) => text
                .parse()
                .map_err(|_| invalid("media.ip", format!("`{text}` is not an IP address")))?,
            None => sip_listen.ip(),
        };
        if media_ip.is_unspecified() {
            return Err(invalid(
                "media.ip",
                "RTP needs a concrete address to advertise in SDP; set media.ip when SIP listens on 0.0.0.0",
            ));
        }

        let media_codecs = match &file.media.codecs {
            None => vec![Codec::Pcmu, Codec::Pcma],
            Some(names) => {
                parse_codecs(names).map_err(|message| invalid("media.codecs", message))?
            }
        };

        let limits = file.limits;
        let max_calls = limits.max_calls.unwrap_or(1000);
        if max_calls == 0 || max_calls > 100_000 {
            return Err(invalid(
                "limits.max_calls",
                format!("{max_calls} is outside 1..=100000"),
            ));
        }
        let memory_mib = limits.memory_mib.unwrap_or(64);
        if !(1..=4096).contains(&memory_mib) {
            return Err(invalid(
                "limits.memory_mib",
                format!("{memory_mib} is outside 1..=4096"),
            ));
        }
        let cpu_budget = seconds("limits.cpu_seconds", limits.cpu_seconds.unwrap_or(10.0))?;
        let call_limit = seconds(
            "limits.call_seconds",
            limits.call_seconds.unwrap_or(4.0 * 3600.0),
        )?;
        let drain = seconds("limits.drain_seconds", limits.drain_seconds.unwrap_or(30.0))?;

        for (name, service) in &file.services {
            if name.is_empty() || !name.chars().all(is_service_char) {
                return Err(invalid(
                    "services",
                    format!("service name `{name}` may use only letters, digits, '-', '_' and '.'"),
                ));
            }
            if service
                .auth_realm
                .as_ref()
                .is_some_and(|realm| realm.is_empty() || realm.contains(['"', '\\', '\r', '\n']))
            {
                return Err(invalid(
                    "services.auth_realm",
                    format!("service `{name}`: the realm must be non-empty text without quotes"),
                ));
            }
            if let Some(codecs) = &service.codecs {
                if codecs.is_empty() {
                    return Err(invalid(
                        "services.codecs",
                        format!("service `{name}`: name at least one codec"),
                    ));
                }
                if let Err(message) = parse_codecs(codecs) {
                    return Err(invalid(
                        "services.codecs",
                        format!("service `{name}`: {message}"),
                    ));
                }
            }
            if service.auth_realm.is_some() && service.users.0.is_empty() {
                return Err(invalid(
                    "services.users",
                    format!("service `{name}` has an auth_realm but no [services.{name}.users]"),
                ));
            }
            if let Some(app) = &service.app
                && (app.is_empty() || !app.chars().all(is_service_char))
            {
                return Err(invalid(
                    "services.app",
                    format!(
                        "app name `{app}` of service `{name}` may use only letters, digits, '-', '_' and '.'"
                    ),
                ));
            }
        }

        let extra_channels = file.calls.extra_channels.unwrap_or(MAX_EXTRA_CHANNELS);
        if extra_channels > MAX_EXTRA_CHANNELS {
            return Err(invalid(
                "calls.extra_channels",
                format!("{extra_channels} is outside 0..={MAX_EXTRA_CHANNELS}"),
            ));
        }
        let sip_uri = |setting: &'static str, value: Option<String>| match value {
            Some(text)
                if !(text.starts_with("sip:") || text.starts_with("sips:"))
                    || text.contains(char::is_whitespace) =>
            {
                Err(invalid(
                    setting,
                    format!("`{text}` is not a sip: or sips: URI"),
                ))
            }
            other => Ok(other),
        };
        let default_from = sip_uri("calls.from", file.calls.from)?;
        let outbound_proxy = sip_uri("calls.outbound_proxy", file.calls.outbound_proxy)?;

        let admin = file.admin.validate()?;

        let mut accounts = Vec::new();
        for (id, section) in file.accounts {
            if id.is_empty() || !id.chars().all(is_service_char) {
                return Err(invalid(
                    "accounts",
                    format!("account id `{id}` may use only letters, digits, '-', '_' and '.'"),
                ));
            }
            accounts.push(section.validate(&id)?);
        }
        if accounts
            .iter()
            .filter(|account| account.contact_user.is_empty())
            .count()
            > 1
        {
            return Err(invalid(
                "accounts.contact_user",
                "only one account may register a userless contact",
            ));
        }

        Ok(Config {
            tls,
            accounts,
            extra_channels,
            default_from,
            outbound_proxy,
            sip_listen,
            sip_udp,
            sip_tcp,
            sip_tuning,
            plugins_dir,
            cache_dir,
            media_dir,
            rtp_ports,
            media_ip,
            symmetric_rtp: file.media.symmetric_rtp.unwrap_or(true),
            media_codecs,
            max_calls,
            memory_limit_bytes: memory_mib as usize * 1024 * 1024,
            cpu_budget,
            call_limit,
            drain,
            services: file.services,
            admin,
            tts: crate::tts::TtsSection::validate(file.tts)?,
        })
    }

    /// The digest realm and users a service challenges callers with, if it does.
    pub fn service_auth(&self, service: &str) -> Option<(&str, &Users)> {
        let entry = self.services.get(service)?;
        Some((entry.auth_realm.as_deref()?, &entry.users))
    }

    /// The codec preferences of `service`, when its section names some
    /// (checked by [`Config::build`]).
    pub fn service_codecs(&self, service: &str) -> Option<Vec<Codec>> {
        let names = self.services.get(service)?.codecs.as_ref()?;
        Some(
            names
                .iter()
                .filter_map(|name| Codec::from_name(name))
                .collect(),
        )
    }

    /// The app and parameters for a service: an explicit `[services.x]` entry, or by
    /// default the plugin named like the service with empty parameters.
    pub fn route(&self, service: &str) -> (String, String) {
        // A call to an account's registered contact goes to that account's app.
        if let Some(account) = self
            .accounts
            .iter()
            .find(|account| account.registrar.is_some() && account.contact_user == service)
        {
            return (account.app.clone(), account.parameters.clone());
        }
        match self.services.get(service) {
            Some(entry) => (
                entry.app.clone().unwrap_or_else(|| service.to_owned()),
                entry.parameters.clone(),
            ),
            None => (service.to_owned(), String::new()),
        }
    }
}

fn is_service_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn seconds(setting: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if !value.is_finite() || value <= 0.0 || value > 1e7 {
        return Err(invalid(
            setting,
            format!("{value} is not a positive number of seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Parse "LO-HI" into an RTP port range: LO even (RTP on even ports, RFC 3550 §11),
/// at least two ports, not below 1024.
pub fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let bad = || {
        invalid(
            "media.rtp_ports",
            format!("`{text}` is not LO-HI (e.g. 20000-29999)"),
        )
    };
    let (low, high) = text.split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low < 1024 {
        return Err(invalid(
            "media.rtp_ports",
            format!("{low} is a privileged port; use 1024 or above"),
        ));
    }
    if high <= low {
        return Err(invalid(
            "media.rtp_ports",
            format!("`{text}`: HI must be above LO"),
        ));
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).expect("test TOML parses")
    }

    fn plugins_overrides() -> Overrides {
        Overrides {
            plugins: Some(std::env::temp_dir()),
            ..Overrides::default()
        }
    }

    #[test]
    fn defaults_listen_on_loopback_5060() {
        let config = Config::build(FileConfig::default(), &plugins_overrides()).unwrap();
        assert_eq!(config.sip_listen, "127.0.0.1:5060".parse().unwrap());
        assert_eq!(config.rtp_ports, 20000..=29999);
        assert_eq!(config.media_ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn accounts_are_checked_and_route_their_contact() {
        let text = "[accounts.alice]\nregistrar = \"sip:127.0.0.1:5999\"\npassword = \"secret\"\napp = \"hello\"\nexpires = 60\n\n[accounts.trunk]\nregistrar = \"sip:registrar.example.com;transport=tcp\"\naor = \"sip:4412345@example.com\"\ncontact_user = \"\"\n";
        let config = Config::build(file(text), &plugins_overrides()).unwrap();
        let alice = &config.accounts[0];
        assert_eq!(
            (
                alice.aor.as_str(),
                alice.username.as_str(),
                alice.contact_user.as_str()
            ),
            ("sip:alice@127.0.0.1:5999", "alice", "alice")
        );
        assert_eq!(alice.expires, Duration::from_secs(60));
        let trunk = &config.accounts[1];
        assert_eq!(
            (
                trunk.username.as_str(),
                trunk.contact_user.as_str(),
                trunk.app.as_str()
            ),
            ("4412345", "", "trunk")
        );
        assert_eq!(config.route("alice"), ("hello".to_string(), String::new()));
        assert_eq!(
            config.route(""),
            ("trunk".to_string(), String::new()),
            "a userless contact routes to its account"
        );
        for bad in [
            "[accounts.x]\nregistrar = \"http://r\"\n",
            "[accounts.x]\naor = \"alice\"\n",
            "[accounts.x]\n",
            "[accounts.x]\nregistrar = \"sip:r\"\nexpires = 0\n",
            "[accounts.x]\nregistrar = \"sip:r\"\ncontact_user = \"\"\n[accounts.y]\nregistrar = \"sip:r\"\ncontact_user = \"\"\n",
        ] {
            let error = Config::build(file(bad), &plugins_overrides())
                .unwrap_err()
                .to_string();
            assert!(error.contains("accounts"), "{bad}: {error}");
        }
    }

    #[test]
    fn calls_settings_are_checked() {
        let config = Config::build(FileConfig::default(), &plugins_overrides()).unwrap();
        assert_eq!(
            (
                config.extra_channels,
                config.default_from.as_deref(),
                config.outbound_proxy.as_deref()
            ),
            (3, None, None)
        );
        let parsed = file(
            "[calls]\nextra_channels = 1\nfrom = \"sip:ivr@example.com\"\noutbound_proxy = \"sip:127.0.0.1:5070;lr\"\n",
        );
        let config = Config::build(parsed, &plugins_overrides()).unwrap();
        assert_eq!(config.extra_channels, 1);
        assert_eq!(config.default_from.as_deref(), Some("sip:ivr@example.com"));
        assert_eq!(
            config.outbound_proxy.as_deref(),
            Some("sip:127.0.0.1:5070;lr")
        );
        for bad in [
            "[calls]\nextra_channels = 4\n",
            "[calls]\nfrom = \"bob\"\n",
            "[calls]\noutbound_proxy = \"http://x\"\n",
        ] {
            let error = Config::build(file(bad), &plugins_overrides())
                .unwrap_err()
                .to_string();
            assert!(error.contains("calls."), "{bad}: {error}");
        }
    }

    #[test]
    fn media_codecs_default_to_g711_and_accept_g722_and_opus() {
        let defaults = Config::build(FileConfig::default(), &plugins_overrides()).unwrap();
        assert_eq!(defaults.media_codecs, vec![Codec::Pcmu, Codec::Pcma]);
        let parsed = file("[media]\ncodecs = [\"opus\", \"G722\", \"pcmu\"]\n");
        let config = Config::build(parsed, &plugins_overrides()).unwrap();
        assert_eq!(
            config.media_codecs,
            vec![Codec::Opus, Codec::G722, Codec::Pcmu]
        );
        for bad in ["[media]\ncodecs = []\n", "[media]\ncodecs = [\"G729\"]\n"] {
            let error = Config::build(file(bad), &plugins_overrides())
                .unwrap_err()
                .to_string();
            assert!(error.contains("media.codecs"), "{bad}: {error}");
        }
    }

    #[test]
    fn service_codecs_are_checked() {
        let parsed = file("[services.alaw]\napp = \"hello\"\ncodecs = [\"pcma\", \"PCMU\"]\n");
        let config = Config::build(parsed, &plugins_overrides()).unwrap();
        assert_eq!(
            config.service_codecs("alaw"),
            Some(vec![Codec::Pcma, Codec::Pcmu])
        );
        let wideband = file("[services.wide]\napp = \"hello\"\ncodecs = [\"G722\", \"OPUS\"]\n");
        let config = Config::build(wideband, &plugins_overrides()).unwrap();
        assert_eq!(
            config.service_codecs("wide"),
            Some(vec![Codec::G722, Codec::Opus])
        );
        assert_eq!(config.service_codecs("hello"), None);
        for bad in [
            "[services.x]\ncodecs = []\n",
            "[services.x]\ncodecs = [\"G729\"]\n",
        ] {
            let error = Config::build(file(bad), &plugins_overrides())
                .unwrap_err()
                .to_string();
            assert!(error.contains("services.codecs"), "{bad}: {error}");
        }
    }

    #[test]
    fn session_timer_and_dns_settings_are_checked() {
        let defaults = Config::build(FileConfig::default(), &plugins_overrides())
            .unwrap()
            .sip_tuning;
        assert_eq!(
            defaults,
            SipTuning {
                session_expires: 1800,
                min_se: 90,
                dns_servers: Vec::new()
            }
        );
        let parsed =
            file("[sip]\nsession_expires = 0\nmin_se = 2\ndns_servers = [\"127.0.0.1:5353\"]\n");
        let tuning = Config::build(parsed, &plugins_overrides())
            .unwrap()
            .sip_tuning;
        assert_eq!(
            tuning,
            SipTuning {
                session_expires: 0,
                min_se: 2,
                dns_servers: vec!["127.0.0.1:5353".parse().unwrap()]
            }
        );
        for (bad, setting) in [
            ("[sip]\nmin_se = 0\n", "sip.min_se"),
            ("[sip]\nsession_expires = 60\n", "sip.session_expires"),
            ("[sip]\ndns_servers = [\"127.0.0.1\"]\n", "sip.dns_servers"),
            (
                "[sip]\ndns_servers = [\"127.0.0.1:0\"]\n",
                "sip.dns_servers",
            ),
        ] {
            let error = Config::build(file(bad), &plugins_overrides())
                .unwrap_err()
                .to_string();
            assert!(error.contains(setting), "{bad}: {error}");
        }
    }

    #[test]
    fn overrides_win_over_the_file() {
        let overrides = Overrides {
            sip_listen: Some("127.0.0.1:5999".into()),
            rtp_ports: Some("30000-30099".into()),
            ..plugins_overrides()
        };
        let config =
            Config::build(file("[sip]\nlisten = \"127.0.0.1:5070\"\n"), &overrides).unwrap();
        assert_eq!(config.sip_listen.port(), 5999);
        assert_eq!(config.rtp_ports, 30000..=30099);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            ("[sip]\nlisten = \"nonsense\"\n", "sip.listen"),
            ("[media]\nrtp_ports = \"5000\"\n", "media.rtp_ports"),
            ("[media]\nrtp_ports = \"6000-5000\"\n", "media.rtp_ports"),
            ("[media]\nrtp_ports = \"80-90\"\n", "media.rtp_ports"),
            ("[limits]\nmemory_mib = 0\n", "limits.memory_mib"),
            ("[limits]\ncpu_seconds = -1\n", "limits.cpu_seconds"),
            ("[sip]\nudp = false\ntcp = false\n", "sip.udp/sip.tcp"),
            ("[services.\"a b\"]\napp = \"x\"\n", "services"),
            ("[admin]\nlisten = \"localhost:8089\"\n", "admin.listen"),
            ("[admin]\ntoken = \"\"\n", "admin.token"),
            ("[admin]\ntoken = \"has space\"\n", "admin.token"),
        ];
        for (text, setting) in cases {
            match Config::build(file(text), &plugins_overrides()) {
                Err(ConfigError::Invalid { setting: got, .. }) => {
                    assert_eq!(got, setting, "for {text:?}")
                }
                other => panic!("{text:?} should be invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn admin_defaults_to_loopback_and_can_be_disabled() {
        let config = Config::build(FileConfig::default(), &plugins_overrides()).unwrap();
        let admin = config.admin.unwrap();
        assert_eq!(admin.listen, "127.0.0.1:8089".parse().unwrap());
        assert_eq!(admin.token, None);

        let config = Config::build(file("[admin]\nlisten = \"\"\n"), &plugins_overrides()).unwrap();
        assert!(config.admin.is_none());
        let config =
            Config::build(file("[admin]\nenabled = false\n"), &plugins_overrides()).unwrap();
        assert!(config.admin.is_none());

        let config = Config::build(
            file("[admin]\nlisten = \"0.0.0.0:9\"\ntoken = \"abc\"\n"),
            &plugins_overrides(),
        )
        .unwrap();
        let admin = config.admin.unwrap();
        assert_eq!(
            (admin.listen.port(), admin.token.as_deref()),
            (9, Some("abc"))
        );
        assert!(
            !format!("{admin:?}").contains("abc"),
            "the token must not be printed"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("[sip]\nlisten_addr = \"x\"\n").is_err());
    }

    #[test]
    fn missing_plugins_dir_is_an_error() {
        let overrides = Overrides {
            plugins: Some("/nonexistent/callhost/plugins".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            Config::build(FileConfig::default(), &overrides),
            Err(ConfigError::Invalid {
                setting: "plugins.dir",
                ..
            })
        ));
    }

    #[test]
    fn routes_default_to_the_plugin_named_like_the_service() {
        let config = Config::build(
            file("[services.support]\napp = \"ivr\"\nparameters = \"queue=7\"\n"),
            &plugins_overrides(),
        )
        .unwrap();
        assert_eq!(config.route("support"), ("ivr".into(), "queue=7".into()));
        assert_eq!(config.route("hello"), ("hello".into(), String::new()));
    }
}
