//! State a module keeps for one running platform (an in-process snapshot, counters not yet
//! handed on), made on first use. Per platform rather than per process, so that two
//! applications in one process (as in the tests) never share it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct ModuleState {
    by_type: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for ModuleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.by_type.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("ModuleState").field("held", &held).finish()
    }
}

impl ModuleState {
    /// The `T` of this platform, made by `init` the first time it is asked for.
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let id = TypeId::of::<T>();
        if let Some(found) = self.by_type.read().expect("state lock").get(&id) {
            return Arc::clone(found).downcast().expect("keyed by its type");
        }
        let mut by_type = self.by_type.write().expect("state lock");
        let state = by_type.entry(id).or_insert_with(|| Arc::new(init()));
        Arc::clone(state).downcast().expect("keyed by its type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn one_value_per_type_made_once() {
        let state = ModuleState::default();
        let made = AtomicU32::new(0);
        let first = state.get_or_init(|| {
            made.fetch_add(1, Ordering::SeqCst);
            AtomicU32::new(7)
        });
        first.store(8, Ordering::SeqCst);
        let again = state.get_or_init(|| {
            made.fetch_add(1, Ordering::SeqCst);
            AtomicU32::new(0)
        });
        assert_eq!(again.load(Ordering::SeqCst), 8);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        let other = state.get_or_init(|| String::from("text"));
        assert_eq!(*other, "text");
    }
}
