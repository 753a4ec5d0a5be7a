"""``groq-orch bench``: load an endpoint at a sweep of concurrencies or rates and report latency, throughput and goodput."""
