//! The module's objects in storage, purged after their rows are gone (by a retried job when the
//! store fails). They are written before their rows through `platform::storage::Uncommitted`.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{self, Version};
use crate::platform::Platform;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::storage::{ObjectKey, Store};

/// Deletes every object of an image, or of one version of it, once its rows are gone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeObjects {
    pub image_id: Uuid,
    /// Only this version; every version when absent.
    pub version: Option<String>,
}

impl PurgeObjects {
    fn prefix(&self) -> Result<ObjectKey, JobError> {
        match &self.version {
            None => Ok(keys::image_prefix(self.image_id)),
            Some(text) => Version::parse(text)
                .map(|version| keys::version_prefix(self.image_id, &version))
                .ok_or_else(|| JobError::permanent(anyhow::anyhow!("bad version {text:?}"))),
        }
    }

    /// Purges now; when the store fails, queues the purge to be retried.
    pub async fn now_or_later(self, platform: &Platform) {
        let Ok(prefix) = self.prefix() else {
            return;
        };
        let Err(error) = delete_under(&platform.store, &prefix).await else {
            return;
        };
        tracing::warn!(%prefix, %error, "cannot purge image objects now; queueing it");
        if let Err(error) = platform.jobs.enqueue(&self).await {
            tracing::error!(%prefix, %error, "cannot queue the purge either; objects are left behind");
        }
    }
}

impl Job for PurgeObjects {
    const KIND: &'static str = "images.purge";
    const QUEUE: Queue = super::QUEUE;

    #[tracing::instrument(skip_all, fields(image_id = %self.image_id))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = context.platform;
        delete_under(&platform.store, &self.prefix()?)
            .await
            .map_err(JobError::retry)
    }
}

async fn delete_under(store: &Store, prefix: &ObjectKey) -> object_store::Result<()> {
    let found: Vec<_> = store
        .object_store()
        .list(Some(prefix.path()))
        .try_collect()
        .await?;
    for object in found {
        match store.object_store().delete(&object.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
