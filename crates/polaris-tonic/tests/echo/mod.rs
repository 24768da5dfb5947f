//! polaris-tonic as the framework suite drives it: Echo providers served with tonic (the
//! examples' `serve_echo`) in the test process and registered through `PolarisServer`, and Echo calls through
//! `PolarisChannel`.

#![allow(dead_code)]

#[path = "../../examples/common/mod.rs"]
mod common;

use polaris_sdk::Client;
use polaris_testkit::suite::{CallOptions, Failure, Framework, Serving};
use polaris_tonic::echo::EchoRequest;
use polaris_tonic::echo::echo_client::EchoClient;
use polaris_tonic::{ChannelBuilder, PolarisChannel, PolarisServer};
use tonic::Request;

/// A channel builder for `service` in `default`.
pub fn consumer_channel(client: &Client, service: &str) -> ChannelBuilder {
    PolarisChannel::builder(client.clone(), service)
}

/// polaris-tonic for the suite.
pub struct Tonic;

impl Framework for Tonic {
    type Caller = EchoClient<PolarisChannel>;

    fn serve(reg: PolarisServer, serving: Serving) {
        common::serve_echo(reg, serving);
    }

    fn caller(client: &Client, service: &str, options: CallOptions) -> Self::Caller {
        let mut channel = consumer_channel(client, service);
        if let Some((namespace, name)) = &options.caller {
            channel = channel.caller(namespace, name);
        }
        if let Some(policy) = options.load_balancer {
            channel = channel.load_balancer(policy);
        }
        if let Some(policies) = options.policies {
            channel = channel.policies(policies);
        }
        EchoClient::new(channel.build())
    }

    async fn call(
        caller: &Self::Caller,
        value: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<(String, String), Failure> {
        let mut request = Request::new(EchoRequest {
            value: value.to_string(),
        });
        for (key, value) in headers {
            request
                .metadata_mut()
                .insert(*key, value.parse().expect("ASCII metadata"));
        }
        match caller.clone().echo(request).await {
            Ok(answer) => {
                let answer = answer.into_inner();
                Ok((answer.value, answer.served_by))
            }
            Err(status) => Err(Failure::from_status(status.code() as i32, status.message())),
        }
    }
}
