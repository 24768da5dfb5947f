//! Polaris response codes: six digits, the first three follow HTTP status classes. This module
//! is the one place that knows what a code means at an edge: its official text (empty for the
//! codes the official table has no text for), its HTTP status ([`http_status`]) and how a
//! batch's overall code follows from its items ([`BatchRule`]).

macro_rules! codes {
    ($($name:ident = $value:literal => $info:literal,)*) => {
        /// A Polaris response code as carried in `code` fields on every protocol.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($name,)*
        }

        impl Code {
            /// The numeric value sent on the wire.
            pub const fn value(self) -> u32 {
                match self {
                    $(Code::$name => $value,)*
                }
            }

            /// The official English description of the code; empty for the codes the official
            /// table has no text for (their replies carry `info: ""`, see [`Code::has_info`]).
            pub const fn info(self) -> &'static str {
                match self {
                    $(Code::$name => $info,)*
                }
            }

            /// Looks a code up by its numeric value.
            pub fn from_value(value: u32) -> Option<Code> {
                match value {
                    $($value => Some(Code::$name),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    ExecuteSuccess = 200000 => "execute success",
    DataNoChange = 200001 => "discover data is no change",
    NoNeedUpdate = 200002 => "update data is no change, no need to update",
    BadRequest = 400000 => "bad request",
    ParseException = 400001 => "request decode failed",
    EmptyRequest = 400002 => "empty request",
    BatchSizeOverLimit = 400003 => "batch size over the limit",
    InvalidDiscoverResource = 400004 => "invalid discover resource",
    InvalidRequestId = 400100 => "invalid request id",
    InvalidUserName = 400101 => "invalid user name",
    InvalidUserToken = 400102 => "invalid user token",
    InvalidParameter = 400103 => "invalid parameter",
    EmptyQueryParameter = 400104 => "query instance parameter is empty",
    InvalidQueryInsParameter = 400105 => "query instance, (service,namespace) or host is required",
    InvalidNamespaceName = 400110 => "invalid namespace name",
    InvalidNamespaceOwners = 400111 => "invalid namespace owners",
    InvalidNamespaceToken = 400112 => "invalid namespace token",
    InvalidServiceName = 400120 => "invalid service name",
    InvalidServiceOwners = 400121 => "invalid service owners",
    InvalidServiceToken = 400122 => "invalid service token",
    InvalidServiceMetadata = 400123 => "invalid service metadata",
    InvalidServicePorts = 400124 => "invalid service ports",
    InvalidServiceBusiness = 400125 => "invalid service business",
    InvalidServiceDepartment = 400126 => "invalid service department",
    InvalidServiceCmdb = 400127 => "invalid service CMDB",
    InvalidServiceComment = 400128 => "invalid service comment",
    InvalidServiceAliasComment = 400129 => "invalid service alias comment",
    InvalidInstanceId = 400130 => "invalid instance id",
    InvalidInstanceHost = 400131 => "invalid instance host",
    InvalidInstancePort = 400132 => "invalid instance port",
    InvalidServiceAlias = 400133 => "invalid service alias",
    InvalidNamespaceWithAlias = 400134 => "request namespace is not allow to create sid type alias",
    InvalidServiceAliasOwners = 400135 => "invalid service alias owners",
    InvalidInstanceProtocol = 400136 => "invalid instance protocol",
    InvalidInstanceVersion = 400137 => "invalid instance version",
    InvalidInstanceLogicSet = 400138 => "invalid instance logic set",
    InvalidInstanceIsolate = 400139 => "invalid instance isolate",
    HealthCheckNotOpen = 400140 => "server not open health check",
    HeartbeatOnDisabledIns = 400141 => "heartbeat on disabled instance",
    HeartbeatExceedLimit = 400142 => "instance can only heartbeat 1 time per second",
    HeartbeatTypeNotFound = 400143 => "heartbeat type not found",
    InvalidMetadata = 400150 => "the length of metadata is too long or metadata contains invalid characters",
    InvalidRateLimitId = 400151 => "invalid rate limit id",
    InvalidRateLimitLabels = 400152 => "invalid rate limit labels",
    InvalidRateLimitAmounts = 400153 => "invalid rate limit amounts",
    InvalidRateLimitName = 400154 => "",
    InvalidCircuitBreakerId = 400160 => "invalid circuit breaker id",
    InvalidCircuitBreakerVersion = 400161 => "invalid circuit breaker version",
    InvalidCircuitBreakerName = 400162 => "invalid circuit breaker name",
    InvalidCircuitBreakerNamespace = 400163 => "invalid circuit breaker namespace",
    InvalidCircuitBreakerOwners = 400164 => "invalid circuit breaker owners",
    InvalidCircuitBreakerToken = 400165 => "invalid circuit breaker token",
    InvalidCircuitBreakerBusiness = 400166 => "invalid circuit breaker business",
    InvalidCircuitBreakerDepartment = 400167 => "invalid circuit breaker department",
    InvalidCircuitBreakerComment = 400168 => "invalid circuit breaker comment",
    CircuitBreakerRuleExisted = 400169 => "",
    InvalidRoutingId = 400700 => "invalid routing id",
    InvalidRoutingPolicy = 400701 => "invalid routing policy, only support (RulePolicy,MetadataPolicy)",
    InvalidRoutingName = 400702 => "invalid routing name",
    InvalidRoutingPriority = 400703 => "",
    InvalidFaultDetectId = 400900 => "invalid fault detect id",
    InvalidFaultDetectName = 400901 => "invalid fault detect name",
    InvalidFaultDetectNamespace = 400902 => "invalid fault detect namespace",
    FaultDetectRuleExisted = 400903 => "",
    InvalidMatchRule = 400904 => "invalid match rule",
    ExistedResource = 400201 => "existed resource",
    NotFoundResource = 400202 => "not found resource",
    NamespaceExistedServices = 400203 => "some services existed in namespace",
    ServiceExistedInstances = 400204 => "some instances existed in service",
    ServiceExistedRoutings = 400205 => "some routings existed in service",
    ServiceExistedRateLimits = 400206 => "some rate limits existed in service",
    ExistReleasedConfig = 400207 => "exist released config",
    SameInstanceRequest = 400208 => "the same instance request",
    ServiceExistedCircuitBreakers = 400209 => "some circuit breakers existed in service",
    ServiceExistedAlias = 400210 => "some aliases existed in service",
    NamespaceExistedConfigGroups = 400219 => "some config group existed in namespace",
    UserExisted = 400215 => "exist user",
    UserGroupExisted = 400216 => "exist usergroup",
    AuthStrategyRuleExisted = 400217 => "exist auth strategy rule",
    SubAccountExisted = 400218 => "some sub-account existed in owner",
    NotFoundUser = 400312 => "not found user",
    NotFoundOwnerUser = 400313 => "not found owner user",
    NotFoundUserGroup = 400314 => "not found usergroup",
    NotFoundAuthStrategyRule = 400315 => "not found auth strategy rule",
    InvalidUserOwners = 400410 => "invalid user owner attribute",
    InvalidUserId = 400411 => "invalid user-id",
    InvalidUserPassword = 400412 => "invalid user password",
    InvalidUserMobile = 400413 => "invalid user mobile",
    InvalidUserEmail = 400414 => "invalid user email",
    InvalidUserGroupOwners = 400420 => "invalid usergroup owner attribute",
    InvalidUserGroupId = 400421 => "invalid usergroup id",
    InvalidAuthStrategyOwners = 400430 => "invalid auth strategy rule owner",
    InvalidAuthStrategyName = 400431 => "invalid auth strategy rule name",
    InvalidAuthStrategyId = 400432 => "invalid auth strategy rule id",
    InvalidPrincipalType = 400440 => "invalid principal type",
    NotAllowModifyDefaultStrategyPrincipal = 400508 => "not allow modify default strategy principal",
    NotAllowModifyOwnerDefaultStrategy = 400509 => "not allow modify main account default strategy",
    NotFoundService = 400301 => "not found service",
    NotFoundRouting = 400302 => "not found routing",
    NotFoundInstance = 400303 => "not found instances",
    NotFoundServiceAlias = 400304 => "not found service alias",
    NotFoundNamespace = 400305 => "not found namespace",
    NotFoundSourceService = 400306 => "not found the source service link with the alias",
    NotFoundRateLimit = 400307 => "not found rate limit",
    NotFoundCircuitBreaker = 400308 => "not found circuit breaker",
    ClientApiNotOpen = 400401 => "client api is not open",
    InvalidConfigFileGroupName = 400801 => "invalid config file group name",
    InvalidConfigFileName = 400802 => "invalid config file name",
    InvalidConfigFileContentLength = 400803 => "config file content too long",
    InvalidConfigFileFormat = 400804 => "invalid config file format, support json,xml,html,properties,text,yaml",
    InvalidConfigFileTags = 400805 => "invalid config file tags, tags should be pair, like key1,value1,key2,value2. and key,value should not blank",
    InvalidWatchConfigFileFormat = 400806 => "invalid watch config file format",
    NotFoundResourceConfigFile = 400807 => "config file not existed",
    InvalidConfigFileTemplateName = 400808 => "invalid config file template name",
    EncryptConfigFileException = 400809 => "encrypt config file exception",
    DecryptConfigFileException = 400811 => "decrypt config file exception",
    NotAllowBusinessService = 400402 => "not allow requesting business service",
    NotAllowAliasUpdate = 400501 => "not allow service alias updating",
    NotAllowAliasCreateInstance = 400502 => "not allow service alias creating instance",
    NotAllowCreateAliasForAlias = 400504 => "only source service can create alias",
    Unauthorized = 401000 => "unauthorized",
    NotAllowedAccess = 401001 => "access is not approved",
    EmptyAutToken = 401002 => "auth token empty",
    TokenDisabled = 401003 => "token already disabled",
    TokenNotExisted = 401004 => "token not existed",
    AuthTokenForbidden = 403001 => "token forbidden",
    OperationRoleForbidden = 403002 => "operation role forbidden",
    ApiRateLimit = 403003 => "server limit the api access",
    CmdbNotFindHost = 404001 => "not found the host cmdb",
    DataConflict = 409000 => "data is conflict, please try again",
    InstanceTooManyRequests = 429001 => "your instance has too many requests",
    IpRateLimit = 429002 => "server limit the ip access",
    ExecuteException = 500000 => "execute exception",
    StoreLayerException = 500001 => "store layer exception",
    CmdbPluginException = 500002 => "cmdb plugin exception",
    ParseRoutingException = 500004 => "parsing routing failed",
    ParseRateLimitException = 500005 => "parse rate limit failed",
    ParseCircuitBreakerException = 500006 => "parse circuit breaker failed",
    HeartbeatException = 500007 => "heartbeat execute exception",
    InstanceRegisTimeout = 500008 => "instance async regist timeout",
}

impl Code {
    /// The HTTP status of the code (see [`http_status`]).
    pub const fn http_status(self) -> u16 {
        http_status(self.value())
    }

    /// True for 200xxx codes.
    pub const fn is_success(self) -> bool {
        is_success(self.value())
    }

    /// False for the codes the official table has no text for (400154, 400169, 400703,
    /// 400903): a reply with one of them carries `info: ""`, whatever the detail.
    pub const fn has_info(self) -> bool {
        !self.info().is_empty()
    }
}

/// The HTTP status of a code value, as the official server computes it: `code / 1000` (so
/// 400202 is 400, 401000 is 401, 500001 is 500). Every HTTP edge answers with this status;
/// Eureka's edge only adds its 404 for missing resources.
pub const fn http_status(code: u32) -> u16 {
    (code / 1000) as u16
}

/// True for 200xxx code values.
pub const fn is_success(code: u32) -> bool {
    http_status(code) == 200
}

/// How a batch write's overall code is derived from the codes of its items, in request order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchRule {
    /// The highest failing item code, else success (namespaces, the config center).
    HighestFailure,
    /// The common code when all items agree, else 500000 for any 5xx, 400000 for any other
    /// failure, else success (services, aliases, instances, governance rules).
    Uniform,
}

impl BatchRule {
    /// The batch's code for its items' codes.
    pub fn code(self, items: &[u32]) -> u32 {
        let success = Code::ExecuteSuccess.value();
        let failures = || items.iter().copied().filter(|c| !is_success(*c));
        let highest = failures().max();
        match self {
            BatchRule::HighestFailure => highest.unwrap_or(success),
            BatchRule::Uniform => {
                let first = items.first().copied().unwrap_or(success);
                if items.iter().all(|c| *c == first) {
                    first
                } else if failures().any(|c| http_status(c) >= 500) {
                    Code::ExecuteException.value()
                } else if highest.is_some() {
                    Code::BadRequest.value()
                } else {
                    success
                }
            }
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.value(), self.info())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_is_code_over_thousand() {
        assert_eq!(Code::DataNoChange.http_status(), 200);
        assert_eq!(Code::NotFoundResource.http_status(), 400);
        assert_eq!(Code::NotAllowedAccess.http_status(), 401);
        assert_eq!(Code::DataConflict.http_status(), 409);
        assert_eq!(Code::StoreLayerException.http_status(), 500);
    }

    #[test]
    fn textless_codes_have_no_info() {
        for code in [
            Code::InvalidRateLimitName,
            Code::CircuitBreakerRuleExisted,
            Code::InvalidRoutingPriority,
            Code::FaultDetectRuleExisted,
        ] {
            assert!(!code.has_info(), "{code:?}");
        }
        assert!(Code::InvalidRoutingId.has_info());
    }

    fn batch(rule: BatchRule, codes: &[Code]) -> u32 {
        let values: Vec<u32> = codes.iter().map(|c| c.value()).collect();
        rule.code(&values)
    }

    #[test]
    fn uniform_rule() {
        use Code::*;
        let rule = BatchRule::Uniform;
        assert_eq!(batch(rule, &[NoNeedUpdate, NoNeedUpdate]), 200002);
        assert_eq!(batch(rule, &[ExistedResource, ExistedResource]), 400201);
        assert_eq!(batch(rule, &[ExecuteSuccess, ExistedResource]), 400000);
        assert_eq!(batch(rule, &[StoreLayerException, ExistedResource]), 500000);
        assert_eq!(batch(rule, &[ExecuteSuccess, NoNeedUpdate]), 200000);
        assert_eq!(batch(rule, &[]), 200000);
    }

    #[test]
    fn highest_failure_rule() {
        use Code::*;
        let rule = BatchRule::HighestFailure;
        assert_eq!(batch(rule, &[ExecuteSuccess, ExistedResource]), 400201);
        assert_eq!(batch(rule, &[NoNeedUpdate, ExecuteSuccess]), 200000);
        assert_eq!(
            batch(rule, &[NamespaceExistedServices, ExistedResource]),
            400203
        );
    }

    #[test]
    fn values_round_trip() {
        for code in [
            Code::ExecuteSuccess,
            Code::SameInstanceRequest,
            Code::InstanceRegisTimeout,
        ] {
            assert_eq!(Code::from_value(code.value()), Some(code));
        }
        assert_eq!(Code::from_value(123), None);
    }
}
