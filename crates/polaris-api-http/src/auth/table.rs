//! Every HTTP route with the [`Endpoint`] it is checked as: the single source the enforcement
//! layer reads, the permission table in `docs/wire/auth.md` is rendered from (with the
//! endpoint's properties, which live in `polaris-auth`), and the end-to-end test walks.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::Method;
use polaris_auth::{Access, Endpoint, Scope, Target};

/// One route.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub endpoint: Endpoint,
}

macro_rules! routes {
    ($($method:ident $path:literal => $endpoint:ident;)*) => {
        /// The table, in documentation order.
        pub fn routes() -> Vec<Route> {
            vec![$(Route {
                method: Method::$method,
                path: $path,
                endpoint: Endpoint::$endpoint,
            },)*]
        }
    };
}

routes! {
    GET "/" => Probe;
    GET "/healthz" => Probe;
    GET "/metrics" => Metrics;
    // Namespaces.
    GET "/naming/v1/namespaces" => ListNamespaces;
    POST "/naming/v1/namespaces" => CreateNamespaces;
    PUT "/naming/v1/namespaces" => UpdateNamespaces;
    POST "/naming/v1/namespaces/delete" => DeleteNamespaces;
    GET "/naming/v1/namespace/token" => NamespaceToken;
    GET "/core/v1/namespaces" => ListNamespaces;
    POST "/core/v1/namespaces" => CreateNamespaces;
    PUT "/core/v1/namespaces" => UpdateNamespaces;
    POST "/core/v1/namespaces/delete" => DeleteNamespaces;
    GET "/core/v1/namespaces/token" => NamespaceToken;
    // Services and aliases.
    GET "/naming/v1/services" => ListServices;
    POST "/naming/v1/services" => CreateServices;
    PUT "/naming/v1/services" => UpdateServices;
    POST "/naming/v1/services/delete" => DeleteServices;
    GET "/naming/v1/services/all" => ListAllServices;
    GET "/naming/v1/services/count" => CountServices;
    GET "/naming/v1/service/token" => ServiceToken;
    POST "/naming/v1/service/alias" => CreateAlias;
    PUT "/naming/v1/service/alias" => UpdateAlias;
    GET "/naming/v1/service/aliases" => ListAliases;
    POST "/naming/v1/service/aliases/delete" => DeleteAliases;
    // Instances.
    GET "/naming/v1/instances" => ListInstances;
    POST "/naming/v1/instances" => CreateInstances;
    PUT "/naming/v1/instances" => UpdateInstances;
    POST "/naming/v1/instances/delete" => DeleteInstances;
    POST "/naming/v1/instances/delete/host" => DeleteInstancesByHost;
    PUT "/naming/v1/instances/isolate/host" => IsolateInstancesByHost;
    GET "/naming/v1/instances/count" => CountInstances;
    GET "/naming/v1/instances/labels" => InstanceLabels;
    // Governance rules.
    GET "/naming/v2/routings" => ListRules;
    POST "/naming/v2/routings" => CreateRules;
    PUT "/naming/v2/routings" => UpdateRules;
    POST "/naming/v2/routings/delete" => DeleteRules;
    PUT "/naming/v2/routings/enable" => EnableRules;
    GET "/naming/v1/routings" => ListRules;
    POST "/naming/v1/routings" => CreateRules;
    PUT "/naming/v1/routings" => UpdateRules;
    POST "/naming/v1/routings/delete" => DeleteRules;
    GET "/naming/v1/ratelimits" => ListRules;
    POST "/naming/v1/ratelimits" => CreateRules;
    PUT "/naming/v1/ratelimits" => UpdateRules;
    POST "/naming/v1/ratelimits/delete" => DeleteRules;
    PUT "/naming/v1/ratelimits/enable" => EnableRules;
    GET "/naming/v1/circuitbreaker/rules" => ListRules;
    POST "/naming/v1/circuitbreaker/rules" => CreateRules;
    PUT "/naming/v1/circuitbreaker/rules" => UpdateRules;
    POST "/naming/v1/circuitbreaker/rules/delete" => DeleteRules;
    PUT "/naming/v1/circuitbreaker/rules/enable" => EnableRules;
    GET "/naming/v1/faultdetectors" => ListRules;
    POST "/naming/v1/faultdetectors" => CreateRules;
    PUT "/naming/v1/faultdetectors" => UpdateRules;
    POST "/naming/v1/faultdetectors/delete" => DeleteRules;
    GET "/naming/v1/lane/groups" => ListRules;
    POST "/naming/v1/lane/groups" => CreateRules;
    PUT "/naming/v1/lane/groups" => UpdateRules;
    POST "/naming/v1/lane/groups/delete" => DeleteRules;
    // Config center.
    GET "/config/v1/configfilegroups" => ListConfigGroups;
    POST "/config/v1/configfilegroups" => CreateConfigGroups;
    PUT "/config/v1/configfilegroups" => UpdateConfigGroups;
    DELETE "/config/v1/configfilegroups" => DeleteConfigGroup;
    GET "/config/v1/configfiles" => ReadConfigFiles;
    POST "/config/v1/configfiles" => CreateConfigFiles;
    PUT "/config/v1/configfiles" => UpdateConfigFiles;
    DELETE "/config/v1/configfiles" => DeleteConfigFiles;
    POST "/config/v1/configfiles/batchdelete" => DeleteConfigFiles;
    GET "/config/v1/configfiles/by-group" => ListConfigFilesByGroup;
    GET "/config/v1/configfiles/search" => SearchConfigFiles;
    POST "/config/v1/configfiles/export" => ExportConfigFiles;
    POST "/config/v1/configfiles/import" => ImportConfigFiles;
    GET "/config/v1/configfiles/release" => ReadConfigRelease;
    POST "/config/v1/configfiles/release" => PublishConfigFile;
    GET "/config/v1/configfiles/releases" => ListConfigReleases;
    GET "/config/v1/configfiles/release/versions" => ListConfigReleaseVersions;
    PUT "/config/v1/configfiles/releases/rollback" => RollbackConfigReleases;
    POST "/config/v1/configfiles/releases/delete" => DeleteConfigReleases;
    POST "/config/v1/configfiles/releases/stopbeta" => StopGrayRelease;
    POST "/config/v1/configfiles/createandpub" => CreateAndPublishConfigFile;
    GET "/config/v1/configfiles/releasehistory" => ListConfigReleaseHistory;
    GET "/config/v1/configfiles/encryptalgorithm" => ListEncryptAlgorithms;
    GET "/config/v1/configfiletemplates" => ListConfigTemplates;
    POST "/config/v1/configfiletemplates" => CreateConfigTemplate;
    // Client routes (SDKs over HTTP).
    POST "/v1/RegisterInstance" => RegisterInstance;
    POST "/v1/DeregisterInstance" => DeregisterInstance;
    POST "/v1/Heartbeat" => Heartbeat;
    POST "/v1/ReportClient" => ReportClient;
    POST "/v1/Discover" => Discover;
    GET "/v1/GetConfigFile" => GetConfigFile;
    POST "/v1/WatchConfigFile" => WatchConfigFiles;
    POST "/v1/GetConfigFileMetadataList" => GetConfigFileMetadataList;
    POST "/v1/ConfigDiscover" => ConfigDiscover;
    GET "/config/v1/GetConfigFile" => GetConfigFile;
    POST "/config/v1/WatchConfigFile" => WatchConfigFiles;
    POST "/config/v1/GetConfigFileMetadataList" => GetConfigFileMetadataList;
    POST "/config/v1/ConfigDiscover" => ConfigDiscover;
    // Users, groups and strategies.
    GET "/core/v1/auth/status" => AuthStatus;
    POST "/core/v1/user/login" => Login;
    GET "/core/v1/users" => ListUsers;
    POST "/core/v1/users" => CreateUsers;
    POST "/core/v1/users/delete" => DeleteUsers;
    PUT "/core/v1/user" => UpdateUser;
    PUT "/core/v1/user/password" => UpdatePassword;
    GET "/core/v1/user/token" => UserToken;
    PUT "/core/v1/user/token/status" => EnableUserToken;
    PUT "/core/v1/user/token/refresh" => RefreshUserToken;
    POST "/core/v1/usergroup" => CreateGroup;
    PUT "/core/v1/usergroups" => UpdateGroups;
    GET "/core/v1/usergroups" => ListGroups;
    POST "/core/v1/usergroups/delete" => DeleteGroups;
    GET "/core/v1/usergroup/detail" => GroupDetail;
    GET "/core/v1/usergroup/token" => GroupToken;
    PUT "/core/v1/usergroup/token/status" => EnableGroupToken;
    PUT "/core/v1/usergroup/token/refresh" => RefreshGroupToken;
    POST "/core/v1/auth/strategy" => CreateStrategy;
    GET "/core/v1/auth/strategy/detail" => StrategyDetail;
    PUT "/core/v1/auth/strategies" => UpdateStrategies;
    GET "/core/v1/auth/strategies" => ListStrategies;
    POST "/core/v1/auth/strategies/delete" => DeleteStrategies;
    GET "/core/v1/auth/principal/resources" => PrincipalResources;
}

/// The table indexed by route, built once.
static INDEX: LazyLock<HashMap<&'static str, Vec<Route>>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, Vec<Route>> = HashMap::new();
    for r in routes() {
        index.entry(r.path).or_default().push(r);
    }
    index
});

/// The endpoint a request was routed to (by its matched route).
pub fn lookup(method: &Method, path: &str) -> Option<Endpoint> {
    INDEX
        .get(path)?
        .iter()
        .find(|r| r.method == *method)
        .map(|r| r.endpoint)
}

/// How the HTTP API names an endpoint's resources (query or JSON body fields).
pub fn named_by(target: Target) -> &'static str {
    match target {
        Target::Nothing => "-",
        Target::Namespace => "namespace `name`",
        Target::Service => "service `namespace` + `name`",
        Target::Instance => "service `namespace` + `service`",
        Target::Rule => "rule `namespace`",
        Target::ConfigGroup => "config group `namespace` + `name`/`group`",
        Target::ConfigFile => "config group `namespace` + `group`",
    }
}

/// How the documentation names a scope.
pub fn scope_text(scope: Scope) -> &'static str {
    match scope {
        Scope::Open => "open (never checked)",
        Scope::Console => "console",
        Scope::Client => "client",
        Scope::Heartbeat => "heartbeat (never checked)",
        Scope::Report => "client report (never checked)",
        Scope::AuthModule => "auth (token always required)",
    }
}

/// How the documentation names an access.
pub fn access_text(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

/// The table as Markdown, as `docs/wire/auth.md` carries it.
pub fn markdown() -> String {
    let mut out = String::from(
        "| Method | Path | Checked as | Access | Resources named by |\n|---|---|---|---|---|\n",
    );
    for r in routes() {
        let e = r.endpoint;
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            r.method,
            r.path,
            scope_text(e.scope()),
            access_text(e.access()),
            named_by(e.target())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/wire/auth.md");
    const BEGIN: &str = "<!-- permission table: generated from crates/polaris-auth/src/endpoint.rs and crates/polaris-api-http/src/auth/table.rs -->\n";
    const END: &str = "<!-- end of permission table -->";

    /// The documented table is the code's table (`UPDATE_DOCS=1` rewrites it).
    #[test]
    fn the_documented_table_is_the_enforced_one() {
        polaris_testkit::docs::check_generated_section(DOC, BEGIN, END, &markdown());
    }

    #[test]
    fn every_route_is_listed_once() {
        let all = routes();
        for (i, r) in all.iter().enumerate() {
            assert!(
                !all[i + 1..]
                    .iter()
                    .any(|o| o.method == r.method && o.path == r.path),
                "{} {} is listed twice",
                r.method,
                r.path
            );
        }
        assert_eq!(
            lookup(&Method::POST, "/v1/Heartbeat").map(Endpoint::scope),
            Some(Scope::Heartbeat)
        );
    }
}
