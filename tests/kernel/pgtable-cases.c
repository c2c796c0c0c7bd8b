/* pgtable kernel cases: run as /init of a tiny initramfs under QEMU (ci/kernel-test).
 *
 * Each case drives, from user space, the kernel path a pgtable catalogue scenario models,
 * in a forked child, and prints one line the harness parses:
 *
 *   PGTABLE-CASE-BEGIN <case>
 *   ... (the kernel's log lines, on the same console)
 *   PGTABLE-CASE-END <case> status=<exit|signal>:<n> detail=<text>
 *
 * The harness decides oops / warn / behaves from the kernel lines between the markers and
 * from the child's status. The program never trusts that the kernel survived a case: each
 * case runs in its own child with a time limit, and the cases run in an order where the
 * controls come first.
 *
 * Build: <cross>-gcc -static -O2 -pthread -o init pgtable-cases.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static size_t huge_size = 2u << 20;
static char detail[256] = "ok";

#define FAIL(...)                                                        \
	do {                                                             \
		snprintf(detail, sizeof detail, __VA_ARGS__);            \
		printf("case-detail: %s\n", detail);                     \
		fflush(stdout);                                          \
		return 1;                                                \
	} while (0)

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			printf("note: writing %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

static long read_long(const char *path)
{
	char buf[64] = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* AnonHugePages of this process, in kB, from /proc/self/smaps_rollup (or smaps). */
static long anon_huge_kb(void)
{
	char line[256];
	long total = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		long kb;
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

/* A THP-backed, huge-aligned anonymous range of one huge page, touched. */
static char *map_thp(void)
{
	size_t len = 2 * huge_size;
	char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)raw + huge_size - 1) & ~(uintptr_t)(huge_size - 1));
	madvise(p, huge_size, MADV_HUGEPAGE);
	memset(p, 0x5a, huge_size);
	return p;
}

/* prot-none-thp-zap: a PROT_NONE huge pmd, then a zap (how = dontneed, munmap or exit).
 * control: the same without mprotect. */
static int prot_none_thp_zap(const char *how, int prot_none)
{
	char *p = map_thp();
	if (!p)
		FAIL("mmap: %s", strerror(errno));
	long kb = anon_huge_kb();
	printf("case-info: AnonHugePages %ld kB\n", kb);
	fflush(stdout);
	if (kb < (long)(huge_size >> 10)) {
		/* Not applicable: this kernel or CPU gives no THP here (exit 77, as automake's
		 * "skipped"). */
		printf("case-detail: no THP: AnonHugePages %ld kB\n", kb);
		fflush(stdout);
		return 77;
	}
	if (prot_none && mprotect(p, huge_size, PROT_NONE))
		FAIL("mprotect: %s", strerror(errno));
	if (!strcmp(how, "dontneed")) {
		if (madvise(p, huge_size, MADV_DONTNEED))
			FAIL("madvise: %s", strerror(errno));
	} else if (!strcmp(how, "munmap")) {
		if (munmap(p, huge_size))
			FAIL("munmap: %s", strerror(errno));
	}
	/* exit: the zap happens in exit_mmap. */
	return 0;
}

/* The pfn /proc/self/pagemap gives for the page at `addr` (0 if absent or unreadable). */
static uint64_t pagemap_pfn(const void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return 0;
	off_t off = (off_t)((uintptr_t)addr / 4096) * (off_t)sizeof entry;
	if (pread(fd, &entry, sizeof entry, off) != (ssize_t)sizeof entry)
		entry = 0;
	close(fd);
	if (!(entry >> 63 & 1))
		return 0;
	return entry & ((1ull << 55) - 1);
}

/* prot-none-zero-split: a read fault maps the huge zero page; mprotect(PROT_NONE) rewrites
 * its pmd; MADV_DONTNEED of half of it splits the pmd (zap_pmd_range -> __split_huge_pmd) and
 * zaps that half; munmap zaps the rest. On 32-bit ARM LPAE the PROT_NONE pmd is not
 * pmd_present, so is_huge_zero_pmd() is false and the split treats the huge zero folio as an
 * anonymous THP (INV-ZERO-FOLIO): references and rmap it never had, then one put too many.
 * control: the same without mprotect. */
static int prot_none_zero_split(int prot_none)
{
	size_t len = 2 * huge_size;
	char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	char *p = (char *)(((uintptr_t)raw + huge_size - 1) & ~(uintptr_t)(huge_size - 1));
	madvise(p, huge_size, MADV_HUGEPAGE);
	volatile char sink = 0;
	sink += p[0];
	sink += p[4096];
	/* The huge zero folio: one naturally aligned, physically contiguous huge page. (s390's
	 * coloured small zero pages are contiguous too, but only over a few pages.) */
	size_t half = huge_size / 2;
	sink += p[half];
	uint64_t pages = huge_size / 4096;
	uint64_t pfn0 = pagemap_pfn(p), pfn1 = pagemap_pfn(p + 4096), pfnh = pagemap_pfn(p + half);
	printf("case-info: pfns %#llx %#llx %#llx\n", (unsigned long long)pfn0,
	       (unsigned long long)pfn1, (unsigned long long)pfnh);
	fflush(stdout);
	(void)sink;
	if (!pfn0 || pfn0 % pages || pfn1 != pfn0 + 1 || pfnh != pfn0 + half / 4096) {
		/* No huge zero page here (no THP, or use_zero_page off): not applicable. */
		printf("case-detail: no huge zero page: pfns %#llx %#llx %#llx\n",
		       (unsigned long long)pfn0, (unsigned long long)pfn1,
		       (unsigned long long)pfnh);
		fflush(stdout);
		return 77;
	}
	if (prot_none && mprotect(p, huge_size, PROT_NONE))
		FAIL("mprotect: %s", strerror(errno));
	if (madvise(p, huge_size / 2, MADV_DONTNEED))
		FAIL("madvise: %s", strerror(errno));
	if (munmap(raw, len))
		FAIL("munmap: %s", strerror(errno));
	return 0;
}

/* Fault, zap and refault anonymous and file pages and check the data: the control that
 * generic paths behave where the empty pte is not zero (s390x: 0x400). */
static int fault_zap_refault(void)
{
	size_t len = 64 * 4096;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		FAIL("mmap anon: %s", strerror(errno));
	for (size_t i = 0; i < len; i += 4096)
		a[i] = (char)(i >> 12 | 1);
	if (madvise(a, len, MADV_DONTNEED))
		FAIL("madvise anon: %s", strerror(errno));
	for (size_t i = 0; i < len; i += 4096)
		if (a[i] != 0)
			FAIL("anon page %zu not zero after MADV_DONTNEED", i >> 12);
	for (size_t i = 0; i < len; i += 4096)
		a[i] = (char)(i >> 12 | 2);
	for (size_t i = 0; i < len; i += 4096)
		if (a[i] != (char)(i >> 12 | 2))
			FAIL("anon page %zu lost its refaulted data", i >> 12);
	munmap(a, len);

	int fd = open("/tmp/fzr", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)len))
		FAIL("file: %s", strerror(errno));
	char *f = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		FAIL("mmap file: %s", strerror(errno));
	for (size_t i = 0; i < len; i += 4096)
		f[i] = (char)(i >> 12 | 3);
	if (madvise(f, len, MADV_DONTNEED))
		FAIL("madvise file: %s", strerror(errno));
	for (size_t i = 0; i < len; i += 4096)
		if (f[i] != (char)(i >> 12 | 3))
			FAIL("file page %zu lost its data across MADV_DONTNEED", i >> 12);
	munmap(f, len);
	char b;
	for (size_t i = 0; i < len; i += 4096)
		if (pread(fd, &b, 1, (off_t)i) != 1 || b != (char)(i >> 12 | 3))
			FAIL("file page %zu: read() disagrees with the mapping", i >> 12);
	close(fd);
	return 0;
}

/* Race 001-B: write() whose source buffer is an mmap of the same file, over the same
 * pages (the page-lock self-deadlock fixed in 2007): must complete with the right data. */
static int write_from_own_mmap(void)
{
	size_t len = 16 * 4096;
	int fd = open("/tmp/wfom", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)len))
		FAIL("file: %s", strerror(errno));
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	for (size_t i = 0; i < len; i++)
		m[i] = (char)(i * 7);
	/* Drop the pages from the page tables so the copy faults while write() holds a page. */
	madvise(m, len, MADV_DONTNEED);
	ssize_t n = pwrite(fd, m + 4096, len - 4096, 0);
	if (n != (ssize_t)(len - 4096))
		FAIL("pwrite returned %zd: %s", n, strerror(errno));
	for (size_t i = 0; i < len - 4096; i++)
		if (m[i] != (char)((i + 4096) * 7))
			FAIL("byte %zu wrong after the self-overlapping write", i);
	munmap(m, len);
	close(fd);
	return 0;
}

/* Race 003: munmap (and MAP_FIXED remap) of a range while another thread faults in it. */
static volatile int stop;
static char *volatile region;
static size_t region_len = 64 * 4096;

static sigjmp_buf faulter_jb;

static void *faulter(void *arg)
{
	(void)arg;
	/* A store into the window between munmap and the MAP_FIXED remap faults: expected,
	 * start over. */
	sigsetjmp(faulter_jb, 1);
	while (!stop) {
		char *r = region;
		for (size_t i = 0; r && i < region_len; i += 4096)
			__atomic_store_n(&r[i], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(faulter_jb, 1);
}

static int munmap_vs_fault(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	char *r = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));
	region = r;
	pthread_t th;
	if (pthread_create(&th, NULL, faulter, NULL))
		FAIL("pthread_create");
	for (int i = 0; i < 300; i++) {
		if (munmap(r, region_len))
			FAIL("munmap: %s", strerror(errno));
		char *again = mmap(r, region_len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (again != r)
			FAIL("MAP_FIXED remap: %s", strerror(errno));
		region = r;
		for (size_t j = 0; j < region_len; j += 4096)
			if (r[j] != 0 && r[j] != 1)
				FAIL("page %zu holds %d after remap", j >> 12, r[j]);
	}
	stop = 1;
	pthread_join(th, NULL);
	return 0;
}

/* Race 004: MADV_COLLAPSE of a shmem range that has a hole, while a userfaultfd is
 * registered MODE_MISSING on a mapping of it. The hole must stay missing: the later access
 * raises UFFD_EVENT_PAGEFAULT and the monitor's UFFDIO_COPY supplies the data. Before the
 * fix (ac492b9c70ca, v6.4) collapse_file filled the hole with zeros: no event, the monitor's
 * data never arrives (INV-004-UFFD). */
static char *volatile uffd_hole;
static volatile int uffd_read_done;
static volatile char uffd_read_value;

static void *uffd_toucher(void *arg)
{
	(void)arg;
	uffd_read_value = *uffd_hole;
	uffd_read_done = 1;
	return NULL;
}

/* A huge-aligned shared mapping of a new memfd of one huge page, every page written through
 * write() (page-cache pages, no ptes) but the hole. Returns the mapping, or NULL. */
static char *shmem_with_hole(int *fdp, size_t hole, char *buf, size_t page)
{
	size_t hs = huge_size;
	int fd = memfd_create("pgtable-004", 0);
	if (fd < 0 || ftruncate(fd, (off_t)hs))
		return NULL;
	char *raw = mmap(NULL, 2 * hs, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)raw + hs - 1) & ~(uintptr_t)(hs - 1));
	if (mmap(p, hs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != p)
		return NULL;
	for (size_t i = 0; i < hs / page; i++)
		if (i != hole && pwrite(fd, buf, page, (off_t)(i * page)) != (ssize_t)page)
			return NULL;
	*fdp = fd;
	return p;
}

/* MADV_COLLAPSE, retried while the kernel says "try again". */
static int collapse(char *p, int *err)
{
	int rc = -1;
	for (int tries = 0; tries < 5; tries++) {
		rc = madvise(p, huge_size, MADV_COLLAPSE);
		*err = errno;
		if (rc == 0 || *err != EAGAIN)
			break;
	}
	return rc;
}

/* Prints the khugepaged trace events the kernel logged (where tracefs exists): they name
 * the scan result behind an MADV_COLLAPSE errno. */
static void print_collapse_trace(void)
{
	char line[512];
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (line[0] != '#')
			printf("case-info: trace: %s", line);
	fclose(f);
	fflush(stdout);
	/* Opening the buffer for writing with O_TRUNC empties it: the next print is new lines. */
	int fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);
	if (fd >= 0)
		close(fd);
}

static int uffd_missing_collapse(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), hs = huge_size, hole = 7;
	char *buf = malloc(page);
	memset(buf, 0x11, page);
	int fd, err = 0;
	mkdir("/sys/kernel/tracing", 0755);
	mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	write_file("/sys/kernel/tracing/events/huge_memory/enable", "1");
	/* Control: the same range without a userfaultfd collapses (the hole becomes zeros). */
	char *c = shmem_with_hole(&fd, hole, buf, page);
	if (!c)
		FAIL("control shmem setup: %s", strerror(errno));
	int crc = collapse(c, &err);
	/* The errno alone does not say: 6.1 fills the page cache, then reports EINVAL because
	 * retract_page_tables found no page table to retract (SCAN_PMD_NULL). */
	int cfilled = lseek(fd, (off_t)(hole * page), SEEK_HOLE) != (off_t)(hole * page);
	printf("case-info: control MADV_COLLAPSE (no userfaultfd) returned %d (%s); hole %s\n",
	       crc, crc ? strerror(err) : "collapsed", cfilled ? "filled" : "still a hole");
	print_collapse_trace();
	if (!cfilled) {
		/* No shmem THP here (s390x under TCG, say): nothing to confirm. */
		printf("case-detail: MADV_COLLAPSE does not collapse shmem here: %s\n",
		       crc ? strerror(err) : "returned 0 but the hole stayed");
		fflush(stdout);
		return 77;
	}
	munmap(c, hs);
	close(fd);
	char *p = shmem_with_hole(&fd, hole, buf, page);
	if (!p)
		FAIL("shmem setup: %s", strerror(errno));
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		printf("case-detail: no userfaultfd here: %s\n", strerror(errno));
		fflush(stdout);
		return 77;
	}
	struct uffdio_api api = {.api = UFFD_API};
	if (ioctl(uffd, UFFDIO_API, &api))
		FAIL("UFFDIO_API: %s", strerror(errno));
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)p, .len = hs},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		FAIL("UFFDIO_REGISTER MODE_MISSING on shmem: %s", strerror(errno));
	int rc = collapse(p, &err);
	printf("case-info: MADV_COLLAPSE returned %d (%s)\n", rc, rc ? strerror(err) : "collapsed");
	print_collapse_trace();
	int filled = lseek(fd, (off_t)(hole * page), SEEK_HOLE) != (off_t)(hole * page);
	printf("case-info: the hole at page %zu is %s\n", hole, filled ? "filled" : "still a hole");
	fflush(stdout);
	uffd_hole = p + hole * page;
	pthread_t th;
	if (pthread_create(&th, NULL, uffd_toucher, NULL))
		FAIL("pthread_create");
	int got_event = 0;
	for (int i = 0; i < 100 && !got_event && !uffd_read_done; i++) {
		struct pollfd pfd = {.fd = uffd, .events = POLLIN};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		struct uffd_msg msg;
		if (read(uffd, &msg, sizeof msg) != (ssize_t)sizeof msg)
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			FAIL("unexpected userfaultfd event %u", msg.event);
		if ((msg.arg.pagefault.address & ~(uint64_t)(page - 1)) != (uintptr_t)uffd_hole)
			FAIL("fault event at %#llx, not at the hole",
			     (unsigned long long)msg.arg.pagefault.address);
		got_event = 1;
		memset(buf, 0x5a, page);
		struct uffdio_copy copy = {
			.dst = (uintptr_t)uffd_hole, .src = (uintptr_t)buf, .len = page};
		if (ioctl(uffd, UFFDIO_COPY, &copy))
			FAIL("UFFDIO_COPY into the hole: %s", strerror(errno));
	}
	pthread_join(th, NULL);
	if (!got_event)
		FAIL("no UFFD_EVENT_PAGEFAULT for the hole: MADV_COLLAPSE (returned %d) filled it "
		     "(INV-004-UFFD), the access read %#x", rc, (unsigned char)uffd_read_value);
	if (uffd_read_value != 0x5a)
		FAIL("the hole reads %#x after UFFDIO_COPY of 0x5a", (unsigned char)uffd_read_value);
	for (size_t i = 0; i < hs / page; i++)
		if (i != hole && p[i * page] != 0x11)
			FAIL("page %zu lost its data", i);
	return 0;
}

struct kcase {
	const char *name;
	int (*run)(const char *arg, int flag);
	const char *arg;
	int flag;
};

static int run_pnz(const char *how, int prot_none) { return prot_none_thp_zap(how, prot_none); }
static int run_fzr(const char *a, int f) { (void)a; (void)f; return fault_zap_refault(); }
static int run_wfom(const char *a, int f) { (void)a; (void)f; return write_from_own_mmap(); }
static int run_mvf(const char *a, int f) { (void)a; (void)f; return munmap_vs_fault(); }
static int run_umc(const char *a, int f) { (void)a; (void)f; return uffd_missing_collapse(); }
static int run_pnzs(const char *a, int prot_none) { (void)a; return prot_none_zero_split(prot_none); }

/* Controls first: a case that crashes the kernel comes after every case that must not. */
static const struct kcase cases[] = {
	{"prot-none-thp-zap/control-dontneed", run_pnz, "dontneed", 0},
	{"prot-none-thp-zap/control-exit", run_pnz, "exit", 0},
	{"fault-zap-refault", run_fzr, NULL, 0},
	{"write-from-own-mmap", run_wfom, NULL, 0},
	{"munmap-vs-fault", run_mvf, NULL, 0},
	{"uffd-missing-collapse", run_umc, NULL, 0},
	{"prot-none-zero-split/control", run_pnzs, NULL, 0},
	{"prot-none-zero-split/split", run_pnzs, NULL, 1},
	{"prot-none-thp-zap/dontneed", run_pnz, "dontneed", 1},
	{"prot-none-thp-zap/munmap", run_pnz, "munmap", 1},
	{"prot-none-thp-zap/exit", run_pnz, "exit", 1},
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `ms` by the monotonic clock: usleep() alone is not trusted (on a minimal kernel it
 * may return at once), so the loop also yields until the time has passed. */
static void sleep_ms(int ms)
{
	double end = now_s() + ms / 1000.0;
	while (now_s() < end) {
		usleep(1000);
		sched_yield();
	}
}

static void run_case(const struct kcase *c)
{
	printf("PGTABLE-CASE-BEGIN %s\n", c->name);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		exit(c->run(c->arg, c->flag));
	}
	int status = 0;
	const char *kind = "hung";
	int code = 0;
	double deadline = now_s() + 20.0;
	while (now_s() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(status)) {
				kind = "exit";
				code = WEXITSTATUS(status);
			} else if (WIFSIGNALED(status)) {
				kind = "signal";
				code = WTERMSIG(status);
			}
			break;
		}
		sleep_ms(50);
	}
	/* Give the kernel's console a moment to drain its lines before the end marker. */
	sleep_ms(300);
	printf("PGTABLE-CASE-END %s status=%s:%d\n", c->name, kind, code);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	write_file("/sys/kernel/mm/transparent_hugepage/enabled", "always");
	long hs = read_long("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	if (hs > 0)
		huge_size = (size_t)hs;
	char release[128] = "?";
	int fd = open("/proc/sys/kernel/osrelease", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, release, sizeof release - 1);
		if (n > 0)
			release[n - (release[n - 1] == '\n')] = 0;
		close(fd);
	}
	double t0 = now_s();
	int slept = usleep(20 * 1000);
	int err = errno;
	printf("PGTABLE-KERNEL release=%s huge=%zu usleep=%s\n", release, huge_size,
	       slept == 0 && now_s() - t0 >= 0.015 ? "ok" : strerror(slept ? err : EAGAIN));
	fflush(stdout);
	const char *only = getenv("PGTABLE_CASES");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!only || strstr(only, cases[i].name))
			run_case(&cases[i]);
	printf("PGTABLE-DONE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
