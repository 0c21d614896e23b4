"""Demo data for `jishi seed`: a county specialty marketplace (县域特产集市) in Chinese."""

from jishi.core.demo.seeder import SeedReport, credentials, demo_present, demo_seed

__all__ = ["SeedReport", "credentials", "demo_present", "demo_seed"]
