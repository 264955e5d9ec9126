"""Department adapters (one per stationed department) and their SDK (services.adapters.sdk)."""
