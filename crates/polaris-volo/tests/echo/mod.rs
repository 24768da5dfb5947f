//! polaris-volo as the framework suite drives it: Echo providers served with volo-grpc (the
//! examples' `serve_echo`) in the test process and registered through `PolarisServer`, and Echo clients through Polaris.

#![allow(dead_code)]

#[path = "../../examples/common/mod.rs"]
mod common;

use polaris_sdk::{Client, RpcPolicies};
use polaris_testkit::suite::{CallOptions, Failure, Framework, Serving};
use polaris_volo::echo::{EchoClient, EchoClientBuilder, EchoRequest};
use polaris_volo::{
    CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance, PolarisServer, PolicyLayer,
};
use volo_grpc::Request;

/// An Echo client of `service` through Polaris with every layer of the crate.
pub fn echo_client(client: &Client, service: &str, balance: PolarisLoadBalance) -> EchoClient {
    echo_client_with(client, service, balance, RpcPolicies::default())
}

/// [`echo_client`] with per-method policies.
pub fn echo_client_with(
    client: &Client,
    service: &str,
    balance: PolarisLoadBalance,
    policies: RpcPolicies,
) -> EchoClient {
    let discover = PolarisDiscover::new(client);
    EchoClientBuilder::new(service)
        .layer_outer(balance.route_labels_layer())
        .layer_outer(PolicyLayer::new(policies))
        .layer_inner(CircuitBreakerLayer::new(&discover))
        .discover(discover)
        .load_balance(balance)
        .build()
}

/// A request with `value`.
pub fn request(value: &str) -> EchoRequest {
    EchoRequest {
        value: value.to_string().into(),
    }
}

/// polaris-volo for the suite.
pub struct Volo;

impl Framework for Volo {
    type Caller = EchoClient;

    fn serve(reg: PolarisServer, serving: Serving) {
        common::serve_echo(reg, serving);
    }

    fn caller(client: &Client, service: &str, options: CallOptions) -> Self::Caller {
        let mut balance = PolarisLoadBalance::new();
        if let Some((namespace, name)) = &options.caller {
            balance = balance.caller(namespace, name);
        }
        if let Some(policy) = options.load_balancer {
            balance = balance.load_balancer(policy);
        }
        echo_client_with(
            client,
            service,
            balance,
            options.policies.unwrap_or_default(),
        )
    }

    async fn call(
        caller: &Self::Caller,
        value: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<(String, String), Failure> {
        let mut call = Request::new(request(value));
        for (key, value) in headers {
            call.metadata_mut()
                .insert(*key, value.parse().expect("ASCII metadata"));
        }
        match caller.echo(call).await {
            Ok(answer) => {
                let answer = answer.into_inner();
                Ok((answer.value.to_string(), answer.served_by.to_string()))
            }
            Err(status) => Err(Failure::from_status(
                i32::from(status.code()),
                status.message(),
            )),
        }
    }
}
