//! Port decorators that fail one chosen saga step on demand.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sage_events_core::ports::{
    DeliveryStatus, InstanceRecord, InstanceStore, PollScheduler, PollStatus, PollTrigger,
    PortError, SecretStore, Watermark, WatermarkStore,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The writes of the registration saga, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    NextId,
    SecretCreate,
    RecordCreate,
    WatermarkAdvance,
    ScheduleUpsert,
    /// An overwrite of an existing secret that fails without writing (not a saga step:
    /// re-authorization's token write).
    SecretPutLost,
    /// An overwrite that is written but answered with an error.
    SecretPutUnconfirmed,
}

pub const ALL_STEPS: [Step; 5] = [
    Step::NextId,
    Step::SecretCreate,
    Step::RecordCreate,
    Step::WatermarkAdvance,
    Step::ScheduleUpsert,
];

/// Which step fails next (once set, every call of that step fails until cleared).
#[derive(Default)]
pub struct FaultSwitch {
    failing: Mutex<Option<Step>>,
    /// The last id `next_id` handed out.
    pub last_id: AtomicU64,
}

impl FaultSwitch {
    pub fn fail(&self, step: Option<Step>) {
        *self.failing.lock().unwrap() = step;
    }

    fn check(&self, step: Step) -> Result<(), PortError> {
        if *self.failing.lock().unwrap() == Some(step) {
            Err(PortError::unavailable(format!(
                "injected failure at {step:?}"
            )))
        } else {
            Ok(())
        }
    }
}

pub struct FailingInstances {
    pub inner: Arc<dyn InstanceStore>,
    pub switch: Arc<FaultSwitch>,
}

#[async_trait]
impl InstanceStore for FailingInstances {
    async fn next_id(&self) -> Result<u64, PortError> {
        self.switch.check(Step::NextId)?;
        let id = self.inner.next_id().await?;
        self.switch.last_id.store(id, Ordering::SeqCst);
        Ok(id)
    }
    async fn create(&self, record: &InstanceRecord) -> Result<(), PortError> {
        // Write first, then fail: the worst case (the write happened, the caller saw an
        // error) must be undone too.
        self.inner.create(record).await?;
        self.switch.check(Step::RecordCreate)
    }
    async fn get(&self, id: u64) -> Result<Option<InstanceRecord>, PortError> {
        self.inner.get(id).await
    }
    async fn list(
        &self,
        organization: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<InstanceRecord>, PortError> {
        self.inner.list(organization, after, limit).await
    }
    async fn update(&self, record: &InstanceRecord) -> Result<(), PortError> {
        self.inner.update(record).await
    }
    async fn set_poll_status(&self, id: u64, status: &PollStatus) -> Result<(), PortError> {
        self.inner.set_poll_status(id, status).await
    }
    async fn set_validity(
        &self,
        id: u64,
        valid: bool,
        reason: Option<&str>,
    ) -> Result<(), PortError> {
        self.inner.set_validity(id, valid, reason).await
    }
    async fn set_delivery_status(&self, id: u64, status: &DeliveryStatus) -> Result<(), PortError> {
        self.inner.set_delivery_status(id, status).await
    }
    async fn delete(&self, id: u64) -> Result<(), PortError> {
        self.inner.delete(id).await
    }
}

pub struct FailingSecrets {
    pub inner: Arc<dyn SecretStore>,
    pub switch: Arc<FaultSwitch>,
}

#[async_trait]
impl SecretStore for FailingSecrets {
    async fn create(&self, instance: u64, value: &str) -> Result<(), PortError> {
        self.inner.create(instance, value).await?;
        self.switch.check(Step::SecretCreate)
    }
    async fn get(&self, instance: u64) -> Result<Option<String>, PortError> {
        self.inner.get(instance).await
    }
    async fn put(&self, instance: u64, value: &str) -> Result<(), PortError> {
        self.switch.check(Step::SecretPutLost)?;
        self.inner.put(instance, value).await?;
        self.switch.check(Step::SecretPutUnconfirmed)
    }
    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        self.inner.delete(instance).await
    }
}

pub struct FailingWatermarks {
    pub inner: Arc<dyn WatermarkStore>,
    pub switch: Arc<FaultSwitch>,
}

#[async_trait]
impl WatermarkStore for FailingWatermarks {
    async fn load(&self, instance: u64, resource: &str) -> Result<Option<Watermark>, PortError> {
        self.inner.load(instance, resource).await
    }
    async fn load_all(
        &self,
        instance: u64,
    ) -> Result<std::collections::BTreeMap<String, Watermark>, PortError> {
        self.inner.load_all(instance).await
    }
    async fn advance(
        &self,
        instance: u64,
        resource: &str,
        new: &Watermark,
    ) -> Result<bool, PortError> {
        let advanced = self.inner.advance(instance, resource, new).await?;
        self.switch.check(Step::WatermarkAdvance)?;
        Ok(advanced)
    }
    async fn delete_instance(&self, instance: u64) -> Result<(), PortError> {
        self.inner.delete_instance(instance).await
    }
}

pub struct FailingScheduler {
    pub inner: Arc<dyn PollScheduler>,
    pub switch: Arc<FaultSwitch>,
}

#[async_trait]
impl PollScheduler for FailingScheduler {
    async fn upsert(&self, instance: u64, interval_minutes: u32) -> Result<(), PortError> {
        self.inner.upsert(instance, interval_minutes).await?;
        self.switch.check(Step::ScheduleUpsert)
    }
    async fn delete(&self, instance: u64) -> Result<(), PortError> {
        self.inner.delete(instance).await
    }
    async fn get(&self, instance: u64) -> Result<Option<u32>, PortError> {
        self.inner.get(instance).await
    }
}

/// Records `poll_now` calls.
#[derive(Default)]
pub struct RecordingTrigger {
    pub calls: Mutex<Vec<(u64, DateTime<Utc>)>>,
}

#[async_trait]
impl PollTrigger for RecordingTrigger {
    async fn poll_now(&self, instance: u64) -> Result<(), PortError> {
        self.calls.lock().unwrap().push((instance, Utc::now()));
        Ok(())
    }
}
