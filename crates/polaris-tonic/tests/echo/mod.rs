//! polaris-tonic as the framework suite drives it: Echo providers served with tonic in the
//! test process and registered through `PolarisServer`, and Echo calls through
//! `PolarisChannel`.

#![allow(dead_code)]

use polaris_sdk::Client;
use polaris_testkit::echo::EchoState;
use polaris_testkit::suite::{CallOptions, Failure, Framework, Stop};
use polaris_tonic::echo::echo_client::EchoClient;
use polaris_tonic::echo::echo_server::{Echo, EchoServer};
use polaris_tonic::echo::{EchoRequest, EchoResponse};
use polaris_tonic::{ChannelBuilder, PolarisChannel, PolarisServer, ServeTonic};
use tokio::net::TcpListener;
use tonic::{Code, Request, Response, Status};

/// A channel builder for `service` in `default`.
pub fn consumer_channel(client: &Client, service: &str) -> ChannelBuilder {
    PolarisChannel::builder(client.clone(), service)
}

struct EchoImpl(EchoState);

#[tonic::async_trait]
impl Echo for EchoImpl {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let value = self.0.answer(request.into_inner().value).await;
        let value = value.map_err(Status::unavailable)?;
        let served_by = self.0.address.clone();
        Ok(Response::new(EchoResponse { value, served_by }))
    }
}

/// polaris-tonic for the suite.
pub struct Tonic;

impl Framework for Tonic {
    type Caller = EchoClient<PolarisChannel>;

    fn serve(
        polaris: PolarisServer,
        listener: TcpListener,
        echo: EchoState,
        limited: bool,
        stop: Stop,
    ) {
        let layer = limited.then(|| polaris.rate_limit_layer());
        let router = tonic::transport::Server::builder()
            .layer(tower::util::option_layer(layer))
            .add_service(EchoServer::new(EchoImpl(echo)));
        tokio::spawn(polaris.serve_tonic(listener, stop, |incoming, shutdown| {
            router.serve_with_incoming_shutdown(incoming, shutdown)
        }));
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
            Err(status) => {
                let message = status.message().to_string();
                Err(match status.code() {
                    Code::Unavailable => Failure::Unavailable(message),
                    Code::ResourceExhausted => Failure::ResourceExhausted(message),
                    Code::DeadlineExceeded => Failure::DeadlineExceeded(message),
                    code => Failure::Other(format!("{code:?}: {message}")),
                })
            }
        }
    }
}
