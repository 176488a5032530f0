"""Analytics over the raw calls, contacts, messages and credits: overview, time series, campaign funnels."""
