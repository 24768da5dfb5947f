//! One call through a [`PolarisChannel`](super::PolarisChannel): the first attempt is a
//! concrete future ([`ResponseFuture`], no allocation of its own when the instance is picked
//! from the cache at once); failover and retries continue in a boxed future, made only after
//! a failure (or when the service is not in the cache yet).

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use polaris_sdk::{Criteria, Instance, RetryPolicy};
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::Service;

use super::{Conn, MethodInfo, Shared, no_instance};
use crate::body::{Prepared, ReportingBody, grpc_status};

type Response = http::Response<ReportingBody>;
type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Status>> + Send>>;

/// Why an attempt produced no response.
enum Failure {
    Transport(tonic::transport::Error),
    Timeout,
}

/// What every attempt of one call shares.
struct Plan {
    /// The request head; once the first attempt is sent, its headers are the copy kept for
    /// the next attempts.
    parts: http::request::Parts,
    /// The request's extensions, for the first attempt (the transport reads none, so a later
    /// attempt goes without rather than copying them).
    extensions: Option<http::Extensions>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    method: Arc<MethodInfo>,
    criteria: Criteria,
    attempts: u32,
    deadline: Option<Instant>,
}

/// What to do after an attempt (returned at once, never stored: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Next {
    Done(Result<Response, Status>),
    /// Try another attempt, avoiding `failed` (and answering `last` if none is left).
    Again {
        failed: Arc<Instance>,
        last: Option<Status>,
    },
}

/// The first attempt of a call, in flight.
struct First {
    shared: Arc<Shared>,
    plan: Plan,
    body: Prepared,
    instance: Arc<Instance>,
    conn: Arc<Conn>,
    channel: Channel,
    /// Until the channel is ready.
    request: Option<http::Request<Body>>,
    /// Once sent.
    sent: Option<tonic::transport::channel::ResponseFuture>,
    attempt_start: Instant,
    /// The call's deadline (boxed: only calls with a timeout pay for it).
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

#[allow(clippy::large_enum_variant)]
enum State {
    Start(Option<(Arc<Shared>, http::Request<Body>)>),
    // Inline, not boxed: the first attempt allocates nothing of its own.
    First(First),
    Slow(BoxFuture),
    Done,
}

/// The response future of [`PolarisChannel`](super::PolarisChannel).
pub struct ResponseFuture {
    state: State,
}

impl ResponseFuture {
    pub(super) fn new(shared: Arc<Shared>, request: http::Request<Body>) -> ResponseFuture {
        ResponseFuture {
            state: State::Start(Some((shared, request))),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start(start) => {
                    let Some((shared, request)) = start.take() else {
                        return Poll::Ready(Err(Status::internal("call polled after its end")));
                    };
                    match start_call(shared, request, cx) {
                        Ok(state) => this.state = state,
                        Err(status) => {
                            this.state = State::Done;
                            return Poll::Ready(Err(status));
                        }
                    }
                }
                State::First(first) => {
                    let outcome = match first.poll_attempt(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(outcome) => outcome,
                    };
                    let State::First(first) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        unreachable!("the state was matched above")
                    };
                    let First {
                        shared,
                        plan,
                        body,
                        instance,
                        conn,
                        channel,
                        attempt_start,
                        ..
                    } = first;
                    if outcome.is_ok() {
                        // Completed (not dropped mid-way): the handle is clean for the next call.
                        conn.give_back(channel);
                    }
                    let more = 1 < plan.attempts && body.replayable();
                    let next =
                        shared.settle(&plan, 0, more, instance, &conn, attempt_start, outcome);
                    match next {
                        Next::Done(result) => {
                            shared.give_back_headers(plan.parts.headers);
                            return Poll::Ready(result);
                        }
                        Next::Again { failed, last } => {
                            let last =
                                last.unwrap_or_else(|| Status::unavailable("no attempt made"));
                            let rest = shared.attempts(plan, body, 1, Some(failed), last);
                            this.state = State::Slow(Box::pin(rest));
                        }
                    }
                }
                State::Slow(rest) => {
                    let result = std::task::ready!(rest.as_mut().poll(cx));
                    this.state = State::Done;
                    return Poll::Ready(result);
                }
                State::Done => {
                    return Poll::Ready(Err(Status::internal("call polled after its end")));
                }
            }
        }
    }
}

/// Starts a call: its plan, the instance (from the cache when it is there at once, else the
/// call continues in a boxed future), and the first attempt.
fn start_call(
    shared: Arc<Shared>,
    request: http::Request<Body>,
    cx: &mut Context<'_>,
) -> Result<State, Status> {
    let (parts, mut body) = request.into_parts();
    let mut plan = shared.plan(parts)?;
    let picked = pin!(shared.pick(&plan.criteria, None)).poll(cx);
    let instance = match picked {
        Poll::Ready(picked) => picked?,
        Poll::Pending => {
            // Not in the cache yet: the boxed path waits for it (the dropped pick held no
            // state of its own beyond the cache's load, which goes on).
            let rest = async move {
                let body = Prepared::from_body(body).await?;
                let last = Status::unavailable("no attempt made");
                shared.attempts(plan, body, 0, None, last).await
            };
            return Ok(State::Slow(Box::pin(rest)));
        }
    };
    let conn = shared.connection(&instance)?;
    let mut body = if plan.attempts > 1 {
        Prepared::take(&mut body, cx)?
    } else {
        Prepared::Once(Some(body))
    };
    let Some(attempt_body) = body.attempt() else {
        return Err(Status::unavailable("no attempt made"));
    };
    let extensions = plan.extensions.take().unwrap_or_default();
    let head = if plan.attempts > 1 {
        shared.first_head(&mut plan.parts, extensions)
    } else {
        let mut head = std::mem::replace(&mut plan.parts, empty_head());
        head.extensions = extensions;
        head
    };
    let mut request = http::Request::from_parts(head, attempt_body);
    *request.version_mut() = http::Version::HTTP_2;
    let sleep = plan
        .deadline
        .map(|deadline| Box::pin(tokio::time::sleep_until(deadline.into())));
    Ok(State::First(First {
        channel: conn.handle(),
        shared,
        plan,
        body,
        instance,
        conn,
        request: Some(request),
        sent: None,
        attempt_start: Instant::now(),
        sleep,
    }))
}

impl First {
    /// Waits for the channel, sends, waits for the response head (or the deadline).
    fn poll_attempt(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::Response<Body>, Failure>> {
        if let Some(request) = self.request.take() {
            match self.channel.poll_ready(cx) {
                Poll::Pending => self.request = Some(request),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(Failure::Transport(error))),
                Poll::Ready(Ok(())) => self.sent = Some(self.channel.call(request)),
            }
        }
        if let Some(sent) = &mut self.sent
            && let Poll::Ready(outcome) = Pin::new(sent).poll(cx)
        {
            return Poll::Ready(outcome.map_err(Failure::Transport));
        }
        if let Some(sleep) = &mut self.sleep
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(Failure::Timeout));
        }
        Poll::Pending
    }
}

impl Shared {
    /// The facts every attempt of a call shares; refuses the call when degraded or when a
    /// breaker is open.
    fn plan(&self, mut parts: http::request::Parts) -> Result<Plan, Status> {
        let started = Instant::now();
        let path = parts.uri.path();
        let (timeout, retry) = {
            let policy = self.settings.policies.load();
            (policy.timeout(path), policy.retry(path))
        };
        if self.settings.policies.degrade_now() {
            return Err(Status::unavailable("refused by the degradation policy"));
        }
        let method = self.method(path);
        if self.settings.breaker {
            self.consumer
                .check(&self.service, Some(method.path.clone()))
                .map_err(no_instance)?;
        }
        let criteria = self.criteria(&method, &parts);
        let extensions = Some(std::mem::take(&mut parts.extensions));
        Ok(Plan {
            parts,
            extensions,
            timeout,
            retry,
            method,
            criteria,
            attempts: 1 + self.settings.failover.max(retry.max_retries),
            deadline: timeout.map(|t| started + t),
        })
    }

    /// The head of the first attempt, with the request's own headers; `parts` keeps a copy
    /// of them for the next attempts (in a map reused from an earlier call).
    fn first_head(
        &self,
        parts: &mut http::request::Parts,
        extensions: http::Extensions,
    ) -> http::request::Parts {
        let mut copy = self.header_maps.lock().pop().unwrap_or_default();
        for (name, value) in &parts.headers {
            copy.append(name.clone(), value.clone());
        }
        let headers = std::mem::replace(&mut parts.headers, copy);
        head(parts, headers, extensions)
    }

    /// Keeps the header map of a finished call for the next one.
    fn give_back_headers(&self, mut headers: http::HeaderMap) {
        let mut maps = self.header_maps.lock();
        if maps.len() < super::MAX_SPARES {
            headers.clear();
            maps.push(headers);
        }
    }

    /// The attempts from `next` on (after a failed first attempt, or all of them when the
    /// instance list had to be loaded first).
    async fn attempts(
        self: Arc<Self>,
        mut plan: Plan,
        mut body: Prepared,
        next: u32,
        mut failed: Option<Arc<Instance>>,
        mut last: Status,
    ) -> Result<Response, Status> {
        for attempt in next..plan.attempts {
            let avoid = failed.as_ref().filter(|_| !plan.retry.same_node);
            let instance = self.pick(&plan.criteria, avoid).await?;
            let conn = self.connection(&instance)?;
            let Some(attempt_body) = body.attempt() else {
                break;
            };
            let extensions = plan.extensions.take().unwrap_or_default();
            let head = head(&plan.parts, plan.parts.headers.clone(), extensions);
            let mut request = http::Request::from_parts(head, attempt_body);
            *request.version_mut() = http::Version::HTTP_2;
            let attempt_start = Instant::now();
            let mut channel = conn.handle();
            let call = async {
                use tower::ServiceExt as _;
                channel.ready().await?.call(request).await
            };
            let outcome = match plan.deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline.into(), call).await {
                    Ok(outcome) => outcome.map_err(Failure::Transport),
                    Err(_) => Err(Failure::Timeout),
                },
                None => call.await.map_err(Failure::Transport),
            };
            if outcome.is_ok() {
                conn.give_back(channel);
            }
            let more = attempt + 1 < plan.attempts && body.replayable();
            match self.settle(
                &plan,
                attempt,
                more,
                instance,
                &conn,
                attempt_start,
                outcome,
            ) {
                Next::Done(result) => return result,
                Next::Again { failed: f, last: l } => {
                    failed = Some(f);
                    if let Some(l) = l {
                        last = l;
                    }
                }
            }
        }
        Err(last)
    }

    /// Reports one attempt's outcome and decides what follows.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        plan: &Plan,
        attempt: u32,
        more: bool,
        instance: Arc<Instance>,
        conn: &Conn,
        attempt_start: Instant,
        outcome: Result<http::Response<Body>, Failure>,
    ) -> Next {
        let method = &plan.method;
        match outcome {
            Err(Failure::Timeout) => {
                self.report_now(method, &instance, Code::DeadlineExceeded, attempt_start);
                Next::Done(Err(Status::deadline_exceeded(format!(
                    "no answer from {} within {:?}",
                    self.service,
                    plan.timeout.unwrap_or_default()
                ))))
            }
            Err(Failure::Transport(error)) => {
                *conn.down_until.lock() = Some(Instant::now() + super::DOWN_FOR);
                self.report_now(method, &instance, Code::Unavailable, attempt_start);
                let last =
                    Status::unavailable(format!("{}:{}: {error}", instance.host, instance.port));
                tracing::debug!(service = %self.service, host = %instance.host, port = instance.port, %error, "connection failed: failing over");
                if !more {
                    return Next::Done(Err(last));
                }
                Next::Again {
                    failed: instance,
                    last: Some(last),
                }
            }
            Ok(response) => {
                let trailers_only = grpc_status(response.headers());
                let retryable = trailers_only == Some(Code::Unavailable as i32)
                    && attempt < plan.retry.max_retries;
                if retryable && more {
                    self.report_now(method, &instance, Code::Unavailable, attempt_start);
                    return Next::Again {
                        failed: instance,
                        last: None,
                    };
                }
                let reporter = self
                    .settings
                    .breaker
                    .then(|| (self.breaker_report(method, &instance), attempt_start));
                let (head, inner) = response.into_parts();
                let mut body = ReportingBody::new(inner, reporter);
                if let Some(code) = trailers_only {
                    body.finish(code);
                }
                Next::Done(Ok(http::Response::from_parts(head, body)))
            }
        }
    }
}

/// An empty request head.
fn empty_head() -> http::request::Parts {
    http::Request::new(()).into_parts().0
}

/// The head of one attempt: the request's method and URI, with `headers` and `extensions`.
fn head(
    parts: &http::request::Parts,
    headers: http::HeaderMap,
    extensions: http::Extensions,
) -> http::request::Parts {
    let mut head = empty_head();
    head.method = parts.method.clone();
    head.uri = parts.uri.clone();
    head.headers = headers;
    head.extensions = extensions;
    head
}
