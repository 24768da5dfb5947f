//! Membership, the leader lease and the leader's jobs.
//!
//! Every `renew` each node renews its row in `cluster_node` (identity `host:port`, lease in
//! database time); the holder renews the `MaintainJob` lease in `leader_election`, and the
//! others try to take it once the lease they last read may have ended (they also wake at the
//! moment it ends, so a failover does not wait for the next renewal). The nodes and leases
//! come from the store's latest reading of them, which the change-feed probe refreshes each
//! second in the same statement: an idle node costs the database a probe a second and one
//! write a renewal. The lease's
//! version is the fencing token: the leader's purge of soft-deleted rows re-checks it inside its
//! own transaction, so a deposed leader never purges. A node that cannot reach the database
//! drops its leadership once its lease must have ended. Each node also registers itself in
//! namespace `Polaris`, service `polaris.checker`, as the official server does, so SDKs and
//! consoles see the cluster; the leader removes the entries of nodes whose lease ended.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polaris_naming::{InstanceSpec, Naming};
use polaris_store_sql::{ClusterTables, Lease, NodeRow};
use polaris_types::{Code, ServiceKey};

use crate::ownership::LiveNodes;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The lease key of the leader-only maintenance jobs (the official key name).
pub const MAINTAIN_JOB: &str = "MaintainJob";
/// Where nodes register themselves (official names).
pub const CHECKER_NAMESPACE: &str = "Polaris";
pub const CHECKER_SERVICE: &str = "polaris.checker";

/// This node as others see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIdentity {
    pub host: String,
    pub port: u32,
    /// Listener ports and version, shown in the maintenance view.
    pub detail: String,
}

impl NodeIdentity {
    /// `host:port`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// How long after the end of the lease it last read a node tries to take it.
const TAKE_MARGIN: Duration = Duration::from_millis(250);

/// Timings of membership and the leader's jobs.
#[derive(Clone, Copy, Debug)]
pub struct MembershipOptions {
    /// How often a node renews its row and its lease.
    pub renew: Duration,
    /// How long a row or a lease lasts without renewal.
    pub lease: Duration,
    /// How often the leader purges soft-deleted rows, and how old they must be.
    pub purge_every: Duration,
    pub tombstone_retention: Duration,
}

impl Default for MembershipOptions {
    fn default() -> Self {
        MembershipOptions {
            renew: Duration::from_secs(3),
            lease: Duration::from_secs(10),
            purge_every: Duration::from_secs(60),
            tombstone_retention: Duration::from_secs(3600),
        }
    }
}

/// What membership last saw.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    pub me: String,
    pub nodes: Vec<NodeRow>,
    pub leases: Vec<Lease>,
    /// The fence this node holds `MaintainJob` at, if it leads.
    pub leading: Option<i64>,
    /// When the nodes and leases above were read (their ages count from then).
    pub read_at: Option<Instant>,
    /// Every fence this node has led at (to show that fences never repeat).
    pub led_fences: BTreeSet<i64>,
    pub last_renewed: Option<Instant>,
    pub last_error: Option<String>,
    pub purges: u64,
}

impl ClusterView {
    /// Ids of nodes whose lease has not ended, in id order.
    pub fn live_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.lease_left_ms > 0)
            .map(|n| n.id.clone())
            .collect()
    }

    /// Whether `MaintainJob`'s lease may have ended by now, as far as the last read tells:
    /// never read, never taken, or the time it had left then has passed since (measured from
    /// when the read was sent, so rather early than late).
    pub fn lease_may_have_ended(&self) -> bool {
        self.lease_ends_at().is_none_or(|end| Instant::now() >= end)
    }

    /// When `MaintainJob`'s lease ends as far as the last read tells (`None`: it has no holder
    /// or was never read).
    fn lease_ends_at(&self) -> Option<Instant> {
        let read_at = self.read_at?;
        let held = self.leases.iter().find(|held| held.key == MAINTAIN_JOB)?;
        let left = u64::try_from(held.lease_left_ms).unwrap_or(0);
        Some(read_at + Duration::from_millis(left))
    }
}

/// The running membership task.
pub struct Membership {
    view: Arc<Mutex<ClusterView>>,
    task: JoinHandle<()>,
}

impl Membership {
    /// Starts renewing this node's membership and competing for the lease.
    pub fn start(
        tables: ClusterTables,
        naming: Arc<Naming>,
        me: NodeIdentity,
        live: Arc<LiveNodes>,
        options: MembershipOptions,
    ) -> Membership {
        let view = Arc::new(Mutex::new(ClusterView {
            me: me.id(),
            ..ClusterView::default()
        }));
        let runner = Runner {
            tables,
            naming,
            me,
            options,
            view: view.clone(),
            live,
            registered: false,
            last_purge: None,
            take_at: None,
        };
        let task = tokio::spawn(runner.run());
        Membership { view, task }
    }

    /// A copy of what membership last saw.
    pub fn view(&self) -> ClusterView {
        self.view.lock().clone()
    }

    /// Stops renewing (the lease then ends on its own).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Runner {
    tables: ClusterTables,
    naming: Arc<Naming>,
    me: NodeIdentity,
    options: MembershipOptions,
    view: Arc<Mutex<ClusterView>>,
    live: Arc<LiveNodes>,
    registered: bool,
    last_purge: Option<Instant>,
    /// When to try to take the lease its holder lets end.
    take_at: Option<Instant>,
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Runner {
    async fn run(mut self) {
        let mut every = tokio::time::interval(self.options.renew);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let take_at = self.take_at.take();
            tokio::select! {
                _ = every.tick() => {}
                _ = sleep_until(take_at) => {}
            }
            if let Err(err) = self.tick().await {
                tracing::warn!(target: "polaris_cluster", %err, "membership renewal failed");
                let mut view = self.view.lock();
                view.last_error = Some(err);
                // Without the database the lease cannot be renewed: once it must have ended,
                // this node is no longer the leader.
                let expired = view
                    .last_renewed
                    .is_none_or(|at| at.elapsed() >= self.options.lease);
                if expired && view.leading.take().is_some() {
                    tracing::warn!(target: "polaris_cluster", "stepped down: the lease could not be renewed");
                }
            }
        }
    }

    async fn tick(&mut self) -> Result<(), String> {
        let id = self.me.id();
        let lease = ms(self.options.lease);
        let started = Instant::now();
        self.tables
            .renew_node(&id, &self.me.host, self.me.port, &self.me.detail, lease)
            .await
            .map_err(|e| e.to_string())?;
        let (fence, may_take) = {
            let view = self.view.lock();
            (view.leading, view.lease_may_have_ended())
        };
        // The holder renews; the others only try to take a lease that may have ended (the
        // statement is conditional on the database's clock, so trying early is harmless).
        let mut moved = false;
        if fence.is_some() || may_take {
            let done = self
                .tables
                .lead(MAINTAIN_JOB, &id, fence, lease)
                .await
                .map_err(|e| e.to_string())?;
            // A take that worked or a renewal that failed: who leads changed, read it now.
            moved = done != fence.is_some();
        }
        let max_age = if moved {
            Duration::ZERO
        } else {
            self.options.renew / 2
        };
        let reading = self
            .tables
            .reading(max_age)
            .await
            .map_err(|e| e.to_string())?;
        let (nodes, leases) = (reading.nodes, reading.leases);
        let leading = leases
            .iter()
            .find(|held| held.key == MAINTAIN_JOB)
            .filter(|held| held.leader == id && held.lease_left_ms > 0)
            .map(|held| held.version);
        {
            let mut view = self.view.lock();
            if leading != view.leading {
                tracing::info!(target: "polaris_cluster", node = %id, fence = ?leading,
                    previous = ?view.leading, "leadership of MaintainJob changed");
            }
            view.leading = leading;
            if let Some(fence) = leading {
                view.led_fences.insert(fence);
            }
            view.nodes = nodes.clone();
            view.leases = leases;
            view.read_at = Some(reading.at);
            // The lease was renewed at the latest when this tick started.
            view.last_renewed = Some(started);
            view.last_error = None;
            self.live.set(id.clone(), view.live_nodes());
            // Wake when a running lease of another node ends (one already over is tried on
            // the next tick, so a lost race never loops).
            if leading.is_none() {
                let now = Instant::now();
                self.take_at = view
                    .lease_ends_at()
                    .filter(|end| *end > now)
                    .map(|end| end + TAKE_MARGIN);
            }
        }
        if !self.registered {
            self.registered = self.register_self().await;
        }
        if let Some(fence) = leading {
            self.leader_jobs(fence, &nodes).await?;
        }
        Ok(())
    }

    /// Registers this node in `Polaris/polaris.checker` (no heartbeat: membership is the truth,
    /// and the leader removes the entries of nodes that left).
    async fn register_self(&self) -> bool {
        let spec = InstanceSpec {
            namespace: CHECKER_NAMESPACE.into(),
            service: CHECKER_SERVICE.into(),
            host: self.me.host.clone(),
            port: Some(self.me.port),
            protocol: Some("grpc".into()),
            enable_health_check: Some(false),
            healthy: Some(true),
            ..Default::default()
        };
        match self.naming.register_instance(spec).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(target: "polaris_cluster", error = %err.detail, code = ?err.code,
                    "cannot register this node in Polaris/polaris.checker");
                false
            }
        }
    }

    async fn leader_jobs(&mut self, fence: i64, nodes: &[NodeRow]) -> Result<(), String> {
        // Checker entries of nodes whose lease ended a lease ago.
        let gone: BTreeSet<(String, u32)> = nodes
            .iter()
            .filter(|n| n.lease_left_ms < -ms(self.options.lease))
            .map(|n| (n.host.clone(), n.port))
            .collect();
        let live: BTreeSet<(String, u32)> = nodes
            .iter()
            .filter(|n| n.lease_left_ms > 0)
            .map(|n| (n.host.clone(), n.port))
            .collect();
        let key = ServiceKey::new(CHECKER_NAMESPACE, CHECKER_SERVICE);
        if let Some(view) = self.naming.snapshot().service(&key) {
            for ins in view.instances.values() {
                let at = (ins.host.clone(), ins.port);
                if gone.contains(&at) && !live.contains(&at) {
                    let spec = InstanceSpec {
                        id: Some(ins.id.clone()),
                        ..Default::default()
                    };
                    match self.naming.deregister_instance(&spec).await {
                        Ok(()) => {
                            tracing::info!(target: "polaris_cluster", node = %format!("{}:{}", at.0, at.1),
                            "removed a departed node from polaris.checker")
                        }
                        Err(err) if err.code == Code::NotFoundInstance => {}
                        Err(err) => return Err(err.detail),
                    }
                }
            }
        }
        let due = self
            .last_purge
            .is_none_or(|at| at.elapsed() >= self.options.purge_every);
        if due {
            let before = polaris_naming::now_millis() - ms(self.options.tombstone_retention);
            let purged = self
                .tables
                .purge_fenced(MAINTAIN_JOB, &self.me.id(), fence, before)
                .await
                .map_err(|e| e.to_string())?;
            self.last_purge = Some(Instant::now());
            if purged {
                self.view.lock().purges += 1;
            } else {
                tracing::info!(target: "polaris_cluster", fence, "purge skipped: the fence no longer holds");
            }
        }
        Ok(())
    }
}
