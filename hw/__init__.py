"""hw: hardware configurations, presets and the discrete-event engines that run isa programs."""
