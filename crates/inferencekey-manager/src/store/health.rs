//! Watches the store for a full or failing disk, so the Manager can say so.
//!
//! Every call goes through to the inner store; a call that fails with
//! [`StoreError::Unavailable`] records the problem, and the next write that succeeds clears
//! it. `inferencekey status` and `/admin/status` show the recorded problem. Reads do not
//! clear it: on a full disk reads keep working while writes fail.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{
    Admission, AttemptOutcome, CustomBackendRecord, DeliveryRecord, GatewayLoad, Gpu,
    IdempotencyBegin, JobRecord, JobStatus, Project, QueueLimits, ReplicaRecord, ReplicaReport,
    ServingState, Store, StoreError, StoreResult, TokenRecord, WebhookRecord, Worker,
    WorkerPresence, WorkloadRecord,
};

/// The last storage failure: what it said and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProblem {
    pub message: String,
    pub since: String,
}

pub struct Watched {
    inner: Arc<dyn Store>,
    problem: Mutex<Option<StorageProblem>>,
}

impl Watched {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Watched {
            inner,
            problem: Mutex::new(None),
        }
    }

    /// The current storage problem, if the last failing call has not been followed by a
    /// successful write.
    pub fn problem(&self) -> Option<StorageProblem> {
        self.problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note<T>(&self, r: &StoreResult<T>) {
        if let Err(StoreError::Unavailable(message)) = r {
            let mut p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
            if p.is_none() {
                tracing::error!(error = %message, "storage is unavailable; writes fail with 503");
                *p = Some(StorageProblem {
                    message: message.clone(),
                    since: crate::util::now_rfc3339(),
                });
            }
        }
    }

    fn read<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        self.note(&r);
        r
    }

    fn write<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        self.note(&r);
        if r.is_ok() {
            let mut p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
            if p.take().is_some() {
                tracing::info!("storage is writable again");
            }
        }
        r
    }
}

#[async_trait::async_trait]
impl Store for Watched {
    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn lead(&self) -> StoreResult<bool> {
        self.read(self.inner.lead().await)
    }

    async fn put_serving(&self, workload_id: &str, state: &ServingState) -> StoreResult<()> {
        self.write(self.inner.put_serving(workload_id, state).await)
    }

    async fn list_serving(&self) -> StoreResult<Vec<(String, ServingState)>> {
        self.read(self.inner.list_serving().await)
    }

    async fn put_gateway_load(&self, loads: &[GatewayLoad], now_ms: i64) -> StoreResult<()> {
        self.write(self.inner.put_gateway_load(loads, now_ms).await)
    }

    async fn gateway_load(&self, since_ms: i64) -> StoreResult<Vec<GatewayLoad>> {
        self.read(self.inner.gateway_load(since_ms).await)
    }

    async fn ensure_project(&self, slug: &str) -> StoreResult<(Project, bool)> {
        self.write(self.inner.ensure_project(slug).await)
    }

    async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>> {
        self.read(self.inner.project_by_slug(slug).await)
    }

    async fn list_projects(&self) -> StoreResult<Vec<Project>> {
        self.read(self.inner.list_projects().await)
    }

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()> {
        self.write(self.inner.insert_token(token).await)
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.read(self.inner.token(id).await)
    }

    async fn list_tokens(&self, project_slug: Option<&str>) -> StoreResult<Vec<TokenRecord>> {
        self.read(self.inner.list_tokens(project_slug).await)
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.write(self.inner.revoke_token(id).await)
    }

    async fn insert_worker(&self, worker: &Worker) -> StoreResult<()> {
        self.write(self.inner.insert_worker(worker).await)
    }

    async fn worker(&self, id: &str) -> StoreResult<Option<Worker>> {
        self.read(self.inner.worker(id).await)
    }

    async fn worker_heartbeat(
        &self,
        worker_id: &str,
        address: &str,
        at: &str,
    ) -> StoreResult<bool> {
        self.write(self.inner.worker_heartbeat(worker_id, address, at).await)
    }

    async fn worker_presence(&self, worker_id: &str) -> StoreResult<Option<WorkerPresence>> {
        self.read(self.inner.worker_presence(worker_id).await)
    }

    async fn assign_replica(&self, replica: &ReplicaRecord) -> StoreResult<()> {
        self.write(self.inner.assign_replica(replica).await)
    }

    async fn unassign_replica(&self, id: &str) -> StoreResult<bool> {
        self.write(self.inner.unassign_replica(id).await)
    }

    async fn replica(&self, id: &str) -> StoreResult<Option<ReplicaRecord>> {
        self.read(self.inner.replica(id).await)
    }

    async fn replicas_of_worker(&self, worker_id: &str) -> StoreResult<Vec<ReplicaRecord>> {
        self.read(self.inner.replicas_of_worker(worker_id).await)
    }

    async fn report_replica(
        &self,
        worker_id: &str,
        report: &ReplicaReport,
        at: &str,
    ) -> StoreResult<bool> {
        self.write(self.inner.report_replica(worker_id, report, at).await)
    }

    async fn clear_replicas(&self) -> StoreResult<usize> {
        self.write(self.inner.clear_replicas().await)
    }

    async fn list_workers(&self) -> StoreResult<Vec<Worker>> {
        self.read(self.inner.list_workers().await)
    }

    async fn insert_gpu(&self, gpu: &Gpu) -> StoreResult<()> {
        self.write(self.inner.insert_gpu(gpu).await)
    }

    async fn gpu(&self, id: &str) -> StoreResult<Option<Gpu>> {
        self.read(self.inner.gpu(id).await)
    }

    async fn list_gpus(&self) -> StoreResult<Vec<Gpu>> {
        self.read(self.inner.list_gpus().await)
    }

    async fn insert_workload(&self, workload: &WorkloadRecord) -> StoreResult<()> {
        self.write(self.inner.insert_workload(workload).await)
    }

    async fn workload(&self, id: &str) -> StoreResult<Option<WorkloadRecord>> {
        self.read(self.inner.workload(id).await)
    }

    async fn workload_by_slug(
        &self,
        project_id: &str,
        slug: &str,
    ) -> StoreResult<Option<WorkloadRecord>> {
        self.read(self.inner.workload_by_slug(project_id, slug).await)
    }

    async fn list_workloads(&self, project_id: Option<&str>) -> StoreResult<Vec<WorkloadRecord>> {
        self.read(self.inner.list_workloads(project_id).await)
    }

    async fn quarantined_workloads(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(self.inner.quarantined_workloads().await)
    }

    async fn update_workload(&self, workload: &WorkloadRecord) -> StoreResult<bool> {
        self.write(self.inner.update_workload(workload).await)
    }

    async fn delete_workload(&self, id: &str) -> StoreResult<bool> {
        self.write(self.inner.delete_workload(id).await)
    }

    async fn set_workload_status(&self, id: &str, status: &str, message: &str) -> StoreResult<()> {
        self.write(self.inner.set_workload_status(id, status, message).await)
    }

    async fn idempotency_begin(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &[u8; 32],
        ttl_secs: i64,
    ) -> StoreResult<IdempotencyBegin> {
        self.write(
            self.inner
                .idempotency_begin(token_id, key, fingerprint, ttl_secs)
                .await,
        )
    }

    async fn idempotency_finish(
        &self,
        token_id: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        self.write(
            self.inner
                .idempotency_finish(token_id, key, status, body)
                .await,
        )
    }

    async fn idempotency_abandon(&self, token_id: &str, key: &str) -> StoreResult<()> {
        self.write(self.inner.idempotency_abandon(token_id, key).await)
    }

    async fn idempotency_reset_running(&self) -> StoreResult<()> {
        self.write(self.inner.idempotency_reset_running().await)
    }

    async fn insert_job(&self, job: &JobRecord, limits: QueueLimits) -> StoreResult<Admission> {
        self.write(self.inner.insert_job(job, limits).await)
    }

    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        self.read(self.inner.job(id).await)
    }

    async fn list_jobs(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        self.read(self.inner.list_jobs(project_id, limit).await)
    }

    async fn claim_next_job(&self) -> StoreResult<Option<JobRecord>> {
        self.write(self.inner.claim_next_job().await)
    }

    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::value::RawValue>,
        error: Option<&Value>,
        delivery: Option<&DeliveryRecord>,
    ) -> StoreResult<()> {
        self.write(
            self.inner
                .finish_job(id, status, result, error, delivery)
                .await,
        )
    }

    async fn delete_finished_jobs_before(&self, cutoff: &str) -> StoreResult<usize> {
        self.write(self.inner.delete_finished_jobs_before(cutoff).await)
    }

    async fn requeue_running_jobs(&self) -> StoreResult<usize> {
        self.write(self.inner.requeue_running_jobs().await)
    }

    async fn put_webhook(&self, webhook: &WebhookRecord) -> StoreResult<bool> {
        self.write(self.inner.put_webhook(webhook).await)
    }

    async fn webhook(&self, workload_id: &str) -> StoreResult<Option<WebhookRecord>> {
        self.read(self.inner.webhook(workload_id).await)
    }

    async fn delete_webhook(&self, workload_id: &str) -> StoreResult<bool> {
        self.write(self.inner.delete_webhook(workload_id).await)
    }

    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.write(
            self.inner
                .claim_due_deliveries(now_ms, lease_ms, limit)
                .await,
        )
    }

    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> StoreResult<()> {
        self.write(self.inner.record_delivery_attempt(id, outcome).await)
    }

    async fn list_deliveries(
        &self,
        workload_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.read(self.inner.list_deliveries(workload_id, limit).await)
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<i64>> {
        self.read(self.inner.next_delivery_due().await)
    }

    async fn delete_finished_deliveries_before(&self, cutoff: &str) -> StoreResult<usize> {
        self.write(self.inner.delete_finished_deliveries_before(cutoff).await)
    }

    async fn insert_custom_backend(&self, backend: &CustomBackendRecord) -> StoreResult<()> {
        self.write(self.inner.insert_custom_backend(backend).await)
    }

    async fn custom_backend_version(
        &self,
        tenant_id: &str,
        slug: &str,
        version: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        self.read(
            self.inner
                .custom_backend_version(tenant_id, slug, version)
                .await,
        )
    }

    async fn custom_backend(
        &self,
        tenant_id: &str,
        slug: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        self.read(self.inner.custom_backend(tenant_id, slug).await)
    }

    async fn list_custom_backends(&self, tenant_id: &str) -> StoreResult<Vec<CustomBackendRecord>> {
        self.read(self.inner.list_custom_backends(tenant_id).await)
    }
}
