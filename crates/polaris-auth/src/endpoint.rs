//! Every operation the server checks (or deliberately does not), as one typed enum: the HTTP
//! adapter maps each route to one of these, the gRPC adapter each method, and the permission
//! table of `docs/wire/auth.md` is rendered from the HTTP mapping and these properties. No wire
//! names live here: only what an operation acts on, whether it reads or writes, and who may
//! call it.

use crate::Access;

/// Which switch governs an endpoint, and so which callers reach it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Never checked: probes, metrics, login, the auth status.
    Open,
    /// Console and OpenAPI management (`consoleOpen`, `consoleStrict`).
    Console,
    /// SDK traffic (`clientOpen`, `clientStrict`).
    Client,
    /// Heartbeats: never checked, as officially.
    Heartbeat,
    /// Client reports: never checked, as officially.
    Report,
    /// Users, groups and strategies: always a valid token.
    AuthModule,
}

/// The principal kinds that get past the edge of an endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Callers {
    /// Anyone, with or without a token.
    Anyone,
    /// Users (admin, main and sub accounts) and groups by their token; anonymous callers too
    /// while the switch is not strict, for reads only. Sub accounts and groups reach only the
    /// resources their strategies name.
    Principals,
    /// A valid user or group token, whatever the switches; which users, groups and strategies a
    /// sub account or group may see or change is decided per object (403002).
    Accounts,
}

/// What the resources an endpoint is checked against are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing beyond the token.
    Nothing,
    /// Namespaces.
    Namespace,
    /// Services (and their aliases).
    Service,
    /// Instances, checked as their service.
    Instance,
    /// Governance rules, checked as their namespace (and service when named).
    Rule,
    /// Config groups.
    ConfigGroup,
    /// Config files, releases and history, checked as their group.
    ConfigFile,
}

macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident => $scope:ident $access:ident $target:ident $($creates:ident)?;)*) => {
        /// One checked (or deliberately unchecked) operation.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $($(#[$doc])* $name,)*
        }

        impl Endpoint {
            /// Every endpoint, in documentation order.
            pub const ALL: &[Endpoint] = &[$(Endpoint::$name,)*];

            /// The endpoint's name, as the documentation shows it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Endpoint::$name => stringify!($name),)*
                }
            }

            pub fn scope(self) -> Scope {
                match self {
                    $(Endpoint::$name => Scope::$scope,)*
                }
            }

            pub fn access(self) -> Access {
                match self {
                    $(Endpoint::$name => Access::$access,)*
                }
            }

            pub fn target(self) -> Target {
                match self {
                    $(Endpoint::$name => Target::$target,)*
                }
            }

            /// Whether the endpoint creates what it names: the namespace a create names need
            /// not be writable yet, and what a sub account creates joins its default strategy.
            pub fn creates(self) -> bool {
                match self {
                    $(Endpoint::$name => endpoints!(@creates $($creates)?),)*
                }
            }
        }
    };
    (@creates creates) => { true };
    (@creates) => { false };
}

endpoints! {
    Probe => Open Read Nothing;
    Metrics => Open Read Nothing;
    ListNamespaces => Console Read Namespace;
    CreateNamespaces => Console Write Namespace creates;
    UpdateNamespaces => Console Write Namespace;
    DeleteNamespaces => Console Write Namespace;
    NamespaceToken => Console Read Namespace;
    ListServices => Console Read Service;
    CreateServices => Console Write Service creates;
    UpdateServices => Console Write Service;
    DeleteServices => Console Write Service;
    ListAllServices => Console Read Service;
    CountServices => Console Read Service;
    ServiceToken => Console Read Service;
    CreateAlias => Console Write Service;
    UpdateAlias => Console Write Service;
    ListAliases => Console Read Service;
    DeleteAliases => Console Write Service;
    ListInstances => Console Read Instance;
    CreateInstances => Console Write Instance;
    UpdateInstances => Console Write Instance;
    DeleteInstances => Console Write Instance;
    DeleteInstancesByHost => Console Write Instance;
    IsolateInstancesByHost => Console Write Instance;
    CountInstances => Console Read Instance;
    InstanceLabels => Console Read Instance;
    ListRules => Console Read Rule;
    CreateRules => Console Write Rule;
    UpdateRules => Console Write Rule;
    DeleteRules => Console Write Rule;
    EnableRules => Console Write Rule;
    ListConfigGroups => Console Read ConfigGroup;
    CreateConfigGroups => Console Write ConfigGroup creates;
    UpdateConfigGroups => Console Write ConfigGroup;
    DeleteConfigGroup => Console Write ConfigGroup;
    ReadConfigFiles => Console Read ConfigFile;
    CreateConfigFiles => Console Write ConfigFile;
    UpdateConfigFiles => Console Write ConfigFile;
    DeleteConfigFiles => Console Write ConfigFile;
    ListConfigFilesByGroup => Console Read ConfigFile;
    SearchConfigFiles => Console Read ConfigFile;
    ExportConfigFiles => Console Read ConfigFile;
    ImportConfigFiles => Console Write ConfigFile;
    ReadConfigRelease => Console Read ConfigFile;
    PublishConfigFile => Console Write ConfigFile;
    ListConfigReleases => Console Read ConfigFile;
    ListConfigReleaseVersions => Console Read ConfigFile;
    RollbackConfigReleases => Console Write ConfigFile;
    DeleteConfigReleases => Console Write ConfigFile;
    StopGrayRelease => Console Write ConfigFile;
    CreateAndPublishConfigFile => Console Write ConfigFile;
    ListConfigReleaseHistory => Console Read ConfigFile;
    ListEncryptAlgorithms => Console Read Nothing;
    ListConfigTemplates => Console Read Nothing;
    CreateConfigTemplate => Console Write Nothing;
    /// SDK registration (HTTP `/v1` and gRPC).
    RegisterInstance => Client Write Instance;
    DeregisterInstance => Client Write Instance;
    Heartbeat => Heartbeat Write Nothing;
    ReportClient => Report Read Nothing;
    /// Discovery; the gRPC stream is checked once when it opens, on its token.
    Discover => Client Read Instance;
    ReportServiceContract => Client Write Service;
    GetServiceContract => Client Read Nothing;
    GetConfigFile => Client Read ConfigFile;
    WatchConfigFiles => Client Read Nothing;
    GetConfigFileMetadataList => Client Read ConfigFile;
    ConfigDiscover => Client Read ConfigFile;
    /// The SDK's config writes (gRPC only).
    ClientCreateConfigFile => Client Write ConfigFile;
    ClientUpdateConfigFile => Client Write ConfigFile;
    ClientPublishConfigFile => Client Write ConfigFile;
    ClientUpsertAndPublishConfigFile => Client Write ConfigFile;
    AuthStatus => Open Read Nothing;
    Login => Open Write Nothing;
    ListUsers => AuthModule Read Nothing;
    CreateUsers => AuthModule Write Nothing;
    DeleteUsers => AuthModule Write Nothing;
    UpdateUser => AuthModule Write Nothing;
    UpdatePassword => AuthModule Write Nothing;
    UserToken => AuthModule Read Nothing;
    EnableUserToken => AuthModule Write Nothing;
    RefreshUserToken => AuthModule Write Nothing;
    CreateGroup => AuthModule Write Nothing;
    UpdateGroups => AuthModule Write Nothing;
    ListGroups => AuthModule Read Nothing;
    DeleteGroups => AuthModule Write Nothing;
    GroupDetail => AuthModule Read Nothing;
    GroupToken => AuthModule Read Nothing;
    EnableGroupToken => AuthModule Write Nothing;
    RefreshGroupToken => AuthModule Write Nothing;
    CreateStrategy => AuthModule Write Nothing;
    StrategyDetail => AuthModule Read Nothing;
    UpdateStrategies => AuthModule Write Nothing;
    ListStrategies => AuthModule Read Nothing;
    DeleteStrategies => AuthModule Write Nothing;
    PrincipalResources => AuthModule Read Nothing;
    /// A routed HTTP request the route table does not list: a console write checked on its
    /// token only.
    Unlisted => Console Write Nothing;
}

impl Endpoint {
    /// Who gets past the edge of this endpoint.
    pub fn callers(self) -> Callers {
        match self.scope() {
            Scope::Open | Scope::Heartbeat | Scope::Report => Callers::Anyone,
            Scope::Console | Scope::Client => Callers::Principals,
            Scope::AuthModule => Callers::Accounts,
        }
    }
}
