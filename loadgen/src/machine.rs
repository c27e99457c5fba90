//! Facts about the machine, printed with every report so figures are never read without
//! knowing what produced them.

use std::fmt;

/// CPU count, CPU model and memory of this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// CPUs this process may use (what `nproc` prints).
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_kib: Option<u64>,
}

impl Machine {
    /// Reads the CPU count and, on Linux, `/proc/cpuinfo` and `/proc/meminfo`.
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Self {
            cpus: cpus(),
            cpu_model: cpu_model(&read("/proc/cpuinfo")),
            memory_kib: memory_total_kib(&read("/proc/meminfo")),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nproc {}, CPU {}, memory {}",
            self.cpus,
            self.cpu_model.as_deref().unwrap_or("unknown"),
            self.memory_kib.map_or("unknown".to_owned(), |kib| format!(
                "{:.1} GiB",
                kib as f64 / (1024.0 * 1024.0)
            ))
        )
    }
}

/// CPUs this process may use; 1 when unknown.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The first `model name` in `/proc/cpuinfo` text (x86), or `Model`/`Hardware` (ARM).
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == *key && !value.trim().is_empty()).then(|| value.trim().to_owned())
        })
    })
}

/// `MemTotal` from `/proc/meminfo` text, in KiB.
pub fn memory_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_model_of_an_x86_machine() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
                       model\t\t: 1\nmodel name\t: AMD EPYC 7B13\nstepping\t: 0\n\n\
                       processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
    }

    #[test]
    fn reads_the_model_line_of_an_arm_machine() {
        let cpuinfo = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd0c\n\n\
                       Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn reads_total_memory() {
        let meminfo = "MemTotal:       24684084 kB\nMemFree:        22337808 kB\n";
        assert_eq!(memory_total_kib(meminfo), Some(24_684_084));
        assert_eq!(memory_total_kib("MemFree: 1 kB\n"), None);
        let machine = Machine {
            cpus: 2,
            cpu_model: Some("AMD EPYC".into()),
            memory_kib: Some(24_684_084),
        };
        assert_eq!(machine.to_string(), "nproc 2, CPU AMD EPYC, memory 23.5 GiB");
    }
}
