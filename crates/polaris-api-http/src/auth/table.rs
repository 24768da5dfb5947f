//! Every HTTP endpoint with the check it needs: the single source the enforcement layer reads,
//! the permission table in `docs/wire/auth.md` is rendered from, and the end-to-end test walks.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::Method;

/// Which switch governs an endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Never checked (probes, metrics, login, auth status).
    Open,
    /// Console and OpenAPI (`consoleOpen`, `consoleStrict`).
    Console,
    /// SDK traffic (`clientOpen`, `clientStrict`).
    Client,
    /// Heartbeats: never checked, as officially.
    Heartbeat,
    /// Users, groups and strategies: always a valid token.
    AuthModule,
}

/// Whether the endpoint reads or writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
}

/// Which resources a request names, and where to find them (query or JSON body).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Names {
    /// Nothing to authorize beyond the token.
    Nothing,
    /// Namespaces: `name` (or `namespace`).
    Namespace,
    /// Services: `namespace` and `name` (or `service`).
    Service,
    /// Instances and client calls: `namespace` and `service`.
    Instance,
    /// Rules: their `namespace` (and `service` when given).
    Rule,
    /// Config groups: `namespace` and `name` (or `group`).
    ConfigGroup,
    /// Config files, releases and history: `namespace` and `group`.
    ConfigFile,
}

/// One endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub scope: Scope,
    pub op: Op,
    pub names: Names,
}

macro_rules! endpoints {
    ($($method:ident $path:literal => $scope:ident $op:ident $names:ident;)*) => {
        /// The table, in documentation order.
        pub fn endpoints() -> Vec<Endpoint> {
            vec![$(Endpoint {
                method: Method::$method,
                path: $path,
                scope: Scope::$scope,
                op: Op::$op,
                names: Names::$names,
            },)*]
        }
    };
}

endpoints! {
    GET "/" => Open Read Nothing;
    GET "/healthz" => Open Read Nothing;
    GET "/metrics" => Open Read Nothing;
    // Namespaces.
    GET "/naming/v1/namespaces" => Console Read Namespace;
    POST "/naming/v1/namespaces" => Console Write Namespace;
    PUT "/naming/v1/namespaces" => Console Write Namespace;
    POST "/naming/v1/namespaces/delete" => Console Write Namespace;
    GET "/naming/v1/namespace/token" => Console Read Namespace;
    GET "/core/v1/namespaces" => Console Read Namespace;
    POST "/core/v1/namespaces" => Console Write Namespace;
    PUT "/core/v1/namespaces" => Console Write Namespace;
    POST "/core/v1/namespaces/delete" => Console Write Namespace;
    GET "/core/v1/namespaces/token" => Console Read Namespace;
    // Services and aliases.
    GET "/naming/v1/services" => Console Read Service;
    POST "/naming/v1/services" => Console Write Service;
    PUT "/naming/v1/services" => Console Write Service;
    POST "/naming/v1/services/delete" => Console Write Service;
    GET "/naming/v1/services/all" => Console Read Service;
    GET "/naming/v1/services/count" => Console Read Service;
    GET "/naming/v1/service/token" => Console Read Service;
    POST "/naming/v1/service/alias" => Console Write Service;
    PUT "/naming/v1/service/alias" => Console Write Service;
    GET "/naming/v1/service/aliases" => Console Read Service;
    POST "/naming/v1/service/aliases/delete" => Console Write Service;
    // Instances.
    GET "/naming/v1/instances" => Console Read Instance;
    POST "/naming/v1/instances" => Console Write Instance;
    PUT "/naming/v1/instances" => Console Write Instance;
    POST "/naming/v1/instances/delete" => Console Write Instance;
    POST "/naming/v1/instances/delete/host" => Console Write Instance;
    PUT "/naming/v1/instances/isolate/host" => Console Write Instance;
    GET "/naming/v1/instances/count" => Console Read Instance;
    GET "/naming/v1/instances/labels" => Console Read Instance;
    // Governance rules.
    GET "/naming/v2/routings" => Console Read Rule;
    POST "/naming/v2/routings" => Console Write Rule;
    PUT "/naming/v2/routings" => Console Write Rule;
    POST "/naming/v2/routings/delete" => Console Write Rule;
    PUT "/naming/v2/routings/enable" => Console Write Rule;
    GET "/naming/v1/routings" => Console Read Rule;
    POST "/naming/v1/routings" => Console Write Rule;
    PUT "/naming/v1/routings" => Console Write Rule;
    POST "/naming/v1/routings/delete" => Console Write Rule;
    GET "/naming/v1/ratelimits" => Console Read Rule;
    POST "/naming/v1/ratelimits" => Console Write Rule;
    PUT "/naming/v1/ratelimits" => Console Write Rule;
    POST "/naming/v1/ratelimits/delete" => Console Write Rule;
    PUT "/naming/v1/ratelimits/enable" => Console Write Rule;
    GET "/naming/v1/circuitbreaker/rules" => Console Read Rule;
    POST "/naming/v1/circuitbreaker/rules" => Console Write Rule;
    PUT "/naming/v1/circuitbreaker/rules" => Console Write Rule;
    POST "/naming/v1/circuitbreaker/rules/delete" => Console Write Rule;
    PUT "/naming/v1/circuitbreaker/rules/enable" => Console Write Rule;
    GET "/naming/v1/faultdetectors" => Console Read Rule;
    POST "/naming/v1/faultdetectors" => Console Write Rule;
    PUT "/naming/v1/faultdetectors" => Console Write Rule;
    POST "/naming/v1/faultdetectors/delete" => Console Write Rule;
    GET "/naming/v1/lane/groups" => Console Read Rule;
    POST "/naming/v1/lane/groups" => Console Write Rule;
    PUT "/naming/v1/lane/groups" => Console Write Rule;
    POST "/naming/v1/lane/groups/delete" => Console Write Rule;
    // Config center.
    GET "/config/v1/configfilegroups" => Console Read ConfigGroup;
    POST "/config/v1/configfilegroups" => Console Write ConfigGroup;
    PUT "/config/v1/configfilegroups" => Console Write ConfigGroup;
    DELETE "/config/v1/configfilegroups" => Console Write ConfigGroup;
    GET "/config/v1/configfiles" => Console Read ConfigFile;
    POST "/config/v1/configfiles" => Console Write ConfigFile;
    PUT "/config/v1/configfiles" => Console Write ConfigFile;
    DELETE "/config/v1/configfiles" => Console Write ConfigFile;
    POST "/config/v1/configfiles/batchdelete" => Console Write ConfigFile;
    GET "/config/v1/configfiles/by-group" => Console Read ConfigFile;
    GET "/config/v1/configfiles/search" => Console Read ConfigFile;
    POST "/config/v1/configfiles/export" => Console Read ConfigFile;
    POST "/config/v1/configfiles/import" => Console Write ConfigFile;
    GET "/config/v1/configfiles/release" => Console Read ConfigFile;
    POST "/config/v1/configfiles/release" => Console Write ConfigFile;
    GET "/config/v1/configfiles/releases" => Console Read ConfigFile;
    GET "/config/v1/configfiles/release/versions" => Console Read ConfigFile;
    PUT "/config/v1/configfiles/releases/rollback" => Console Write ConfigFile;
    POST "/config/v1/configfiles/releases/delete" => Console Write ConfigFile;
    POST "/config/v1/configfiles/releases/stopbeta" => Console Write ConfigFile;
    POST "/config/v1/configfiles/createandpub" => Console Write ConfigFile;
    GET "/config/v1/configfiles/releasehistory" => Console Read ConfigFile;
    GET "/config/v1/configfiles/encryptalgorithm" => Console Read Nothing;
    GET "/config/v1/configfiletemplates" => Console Read Nothing;
    POST "/config/v1/configfiletemplates" => Console Write Nothing;
    // Client routes (SDKs over HTTP).
    POST "/v1/RegisterInstance" => Client Write Instance;
    POST "/v1/DeregisterInstance" => Client Write Instance;
    POST "/v1/Heartbeat" => Heartbeat Write Nothing;
    POST "/v1/ReportClient" => Client Read Nothing;
    POST "/v1/Discover" => Client Read Instance;
    GET "/v1/GetConfigFile" => Client Read ConfigFile;
    POST "/v1/WatchConfigFile" => Client Read Nothing;
    POST "/v1/GetConfigFileMetadataList" => Client Read ConfigFile;
    POST "/v1/ConfigDiscover" => Client Read ConfigFile;
    GET "/config/v1/GetConfigFile" => Client Read ConfigFile;
    POST "/config/v1/WatchConfigFile" => Client Read Nothing;
    POST "/config/v1/GetConfigFileMetadataList" => Client Read ConfigFile;
    POST "/config/v1/ConfigDiscover" => Client Read ConfigFile;
    // Users, groups and strategies.
    GET "/core/v1/auth/status" => Open Read Nothing;
    POST "/core/v1/user/login" => Open Write Nothing;
    GET "/core/v1/users" => AuthModule Read Nothing;
    POST "/core/v1/users" => AuthModule Write Nothing;
    POST "/core/v1/users/delete" => AuthModule Write Nothing;
    PUT "/core/v1/user" => AuthModule Write Nothing;
    PUT "/core/v1/user/password" => AuthModule Write Nothing;
    GET "/core/v1/user/token" => AuthModule Read Nothing;
    PUT "/core/v1/user/token/status" => AuthModule Write Nothing;
    PUT "/core/v1/user/token/refresh" => AuthModule Write Nothing;
    POST "/core/v1/usergroup" => AuthModule Write Nothing;
    PUT "/core/v1/usergroups" => AuthModule Write Nothing;
    GET "/core/v1/usergroups" => AuthModule Read Nothing;
    POST "/core/v1/usergroups/delete" => AuthModule Write Nothing;
    GET "/core/v1/usergroup/detail" => AuthModule Read Nothing;
    GET "/core/v1/usergroup/token" => AuthModule Read Nothing;
    PUT "/core/v1/usergroup/token/status" => AuthModule Write Nothing;
    PUT "/core/v1/usergroup/token/refresh" => AuthModule Write Nothing;
    POST "/core/v1/auth/strategy" => AuthModule Write Nothing;
    GET "/core/v1/auth/strategy/detail" => AuthModule Read Nothing;
    PUT "/core/v1/auth/strategies" => AuthModule Write Nothing;
    GET "/core/v1/auth/strategies" => AuthModule Read Nothing;
    POST "/core/v1/auth/strategies/delete" => AuthModule Write Nothing;
    GET "/core/v1/auth/principal/resources" => AuthModule Read Nothing;
}

/// The table indexed by method and route, built once.
static INDEX: LazyLock<HashMap<&'static str, Vec<Endpoint>>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, Vec<Endpoint>> = HashMap::new();
    for e in endpoints() {
        index.entry(e.path).or_default().push(e);
    }
    index
});

/// The endpoint a request was routed to.
pub fn lookup(method: &Method, path: &str) -> Option<&'static Endpoint> {
    INDEX.get(path)?.iter().find(|e| e.method == *method)
}

/// The table as Markdown, as `docs/wire/auth.md` carries it.
pub fn markdown() -> String {
    let mut out = String::from(
        "| Method | Path | Checked as | Access | Resources named by |\n|---|---|---|---|---|\n",
    );
    for e in endpoints() {
        let scope = match e.scope {
            Scope::Open => "open (never checked)",
            Scope::Console => "console",
            Scope::Client => "client",
            Scope::Heartbeat => "heartbeat (never checked)",
            Scope::AuthModule => "auth (token always required)",
        };
        let op = match e.op {
            Op::Read => "read",
            Op::Write => "write",
        };
        let names = match e.names {
            Names::Nothing => "-",
            Names::Namespace => "namespace `name`",
            Names::Service => "service `namespace` + `name`",
            Names::Instance => "service `namespace` + `service`",
            Names::Rule => "rule `namespace`",
            Names::ConfigGroup => "config group `namespace` + `name`/`group`",
            Names::ConfigFile => "config group `namespace` + `group`",
        };
        out.push_str(&format!(
            "| {} | `{}` | {scope} | {op} | {names} |\n",
            e.method, e.path
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/wire/auth.md");
    const BEGIN: &str =
        "<!-- permission table: generated from crates/polaris-api-http/src/auth/table.rs -->\n";
    const END: &str = "<!-- end of permission table -->";

    /// The documented table is the code's table (`UPDATE_DOCS=1` rewrites it).
    #[test]
    fn the_documented_table_is_the_enforced_one() {
        let doc = std::fs::read_to_string(DOC).expect("docs/wire/auth.md");
        let start = doc.find(BEGIN).expect("table start marker") + BEGIN.len();
        let end = doc.find(END).expect("table end marker");
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{}{}", &doc[..start], markdown(), &doc[end..]);
            std::fs::write(DOC, updated).expect("write docs");
            return;
        }
        assert_eq!(
            &doc[start..end],
            markdown(),
            "run with UPDATE_DOCS=1 to regenerate"
        );
    }

    #[test]
    fn every_endpoint_is_listed_once() {
        let all = endpoints();
        for (i, e) in all.iter().enumerate() {
            assert!(
                !all[i + 1..]
                    .iter()
                    .any(|o| o.method == e.method && o.path == e.path),
                "{} {} is listed twice",
                e.method,
                e.path
            );
        }
        assert_eq!(
            lookup(&Method::POST, "/v1/Heartbeat").map(|e| e.scope),
            Some(Scope::Heartbeat)
        );
    }
}
