"""The sepsis risk model: hourly features from the last hours, XGBoost, a validation baseline."""
