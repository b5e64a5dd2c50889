/*
 * genie-ts native test provider: an "NPU" whose graphExecute sleeps on the calling thread.
 *
 * A QNN backend library in shape (it exports QnnInterface_getProviders and
 * QnnSystemInterface_getProviders, docs/qnn-abi.md#exported-entry-points) whose provider tables are
 * copies of another provider's (the simulated one's, handed in with genie_npu_sim_set_upstream),
 * with one slot replaced: graphExecute (core table slot 21, docs/qnn-abi.md#core-function-table)
 * sleeps the configured time on the thread that calls it and returns QNN_SUCCESS. It never calls
 * back into JS from graphExecute, so it may run on a Koffi worker thread (execute mode `async`)
 * while the JS thread waits or works. It records the time each execute really took (CLOCK_MONOTONIC)
 * so a benchmark can subtract the NPU's busy time from wall time.
 *
 * graphExecuteAsync (slot 22, docs/qnn-abi.md#queued-execution) is replaced too: it only enqueues
 * the execution; one "NPU" thread runs the queue in FIFO order (the same sleep and records, each
 * execution starting when the previous one ended, or when it was submitted if that is later) and
 * hands each end to a second thread, which calls the notify function. A notify from a foreign
 * thread waits until the JS thread has run it
 * (Koffi queues it to the event loop), so the NPU thread never calls it: the next queued execution
 * starts as soon as the previous one ends, as on an accelerator whose queue does not wait for the
 * host. It records how long after each end the notify call came (the notifier thread's wake-up):
 * time the NPU may wait that is the provider's, not the host's. A graphExecute while executions are
 * queued waits for them (QNN's FIFO).
 *
 * contextCreateFromBinary (core slot 13) is wrapped too: it first reads every byte of the binary
 * through the caller's pointer, as an NPU loading the whole binary into its own memory would, and
 * records the process's resident memory at the end of that pass (Linux /proc/self/status); then it
 * hands the upstream provider the binary, or only its loadable front for a padded test binary (one
 * that ends with the 16-byte trailer "NPUPAD01" + the front's length, uint64 little-endian: the
 * padding stands for what an NPU keeps in its own memory, so the host holds no copy of it).
 *
 * The NPU's threads (the queue's two, and a Koffi worker running graphExecute in `async` mode) are
 * the test's stand-in for an accelerator: on a host of two or more CPUs, genie_npu_sim_separate
 * gives them the last CPU and the calling (JS) thread the others, so the stand-in never takes CPU
 * time from the host work it measures (its sleeps end in a busy-wait, and a thread woken on the
 * JS thread's CPU would preempt it).
 *
 * Nothing here comes from Qualcomm's headers: the few layouts used are written from
 * docs/qnn-abi.md (LP64). Built by bench/native/npu-sim.ts with the system C compiler.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <pthread.h>

typedef uint64_t qnn_error_t;               /* Qnn_ErrorHandle_t */
typedef qnn_error_t (*get_providers_fn)(const void ***list, uint32_t *count);

#define QNN_SUCCESS 0
#define QNN_GRAPH_ERROR_INVALID_ARGUMENT 6000
#define QNN_GRAPH_ERROR_INVALID_HANDLE 6001
#define QNN_COMMON_ERROR_GENERAL 1100

/* QnnInterface_t (docs/qnn-abi.md#interface-provider-structs). */
#define IFACE_CORE_API_MAJOR 16
#define IFACE_CORE_API_MINOR 20
#define IFACE_TABLE 40
#define SLOT_SIZE 8
#define SLOT_GRAPH_EXECUTE 21
#define SLOT_GRAPH_EXECUTE_ASYNC 22
#define SLOT_CONTEXT_CREATE_FROM_BINARY 13
#define MAX_PROVIDERS 16

/*
 * Core API minor from which each slot sits at its index (docs/qnn-abi.md#core-function-table;
 * slots 0-47 taken as 2.9). A provider defines only the slots of its minor: no more are read.
 */
static const uint8_t SLOT_SINCE_MINOR[] = {
  9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
  9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
  11, 11, 11, 12, 12, 12, 13, 15, 17, 17, 17, 18, 18, 18, 22, 22, 25, 25, 26, 27, 28, 32, 32,
};
#define CORE_SLOTS (sizeof(SLOT_SINCE_MINOR) / sizeof(SLOT_SINCE_MINOR[0]))

static get_providers_fn upstream_core;
static get_providers_fn upstream_system;
static const void *provider_copies[MAX_PROVIDERS];

typedef qnn_error_t (*context_create_fn)(void *backend, void *device, const void *configs, const void *buffer,
                                         uint64_t size, void *out, void *profile);
static context_create_fn upstream_context_create;
static const char PAD_MAGIC[8] = { 'N', 'P', 'U', 'P', 'A', 'D', '0', '1' };
#define PAD_TRAILER 16
static uint64_t loaded_size;      /* size of the largest binary contextCreateFromBinary has read since the last reset */
static uint64_t loaded_sum;       /* sum of its bytes */
static uint64_t loaded_rss_anon;  /* RssAnon / RssFile (bytes) at the end of the pass over it */
static uint64_t loaded_rss_file;

static uint32_t execute_us;       /* sleep per graphExecute */
static uint32_t spin_us = 200;    /* the last part of the sleep is a busy-wait, for accuracy */
static int execute_us_set;
static uint64_t busy_ns;          /* total time spent in graphExecute */
static uint64_t execute_count;
static int64_t last_thread;       /* thread id of the last graphExecute */
static uint64_t last_ns;          /* duration of the last graphExecute */
static uint64_t last_end_ns;      /* when the last graphExecute returned */
#define GAP_RING 65536
static uint64_t gap_ns[GAP_RING]; /* idle time before execute n (n = 1, 2, ...), ring of the last GAP_RING */
static uint64_t notify_ns[GAP_RING]; /* queued execute n: from its end to its notify call, same ring */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t thread_id(void) {
#ifdef __linux__
  return (int64_t)syscall(SYS_gettid);
#else
  return (int64_t)(uintptr_t)pthread_self();
#endif
}

static int npu_cpu = -1;          /* the CPU of the NPU's threads (genie_npu_sim_separate), -1: anywhere */
static int64_t host_thread;       /* the thread that called genie_npu_sim_separate: never moved */
static uint32_t separation;       /* counts genie_npu_sim_separate calls: a thread pins once per call */
static __thread uint32_t pinned;  /* the separation this thread was moved for (0: none) */
#define MAX_PINNED 64
static int64_t pinned_threads[MAX_PINNED]; /* the threads moved, for genie_npu_sim_rejoin */
static int pinned_count;
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
#ifdef __linux__
static cpu_set_t host_allowed;    /* the host thread's CPUs before the separation */
#endif

/* Moves the calling thread to the NPU's CPU, once (not the host's thread: sync mode executes there). */
static void pin_to_npu_cpu(void) {
#ifdef __linux__
  uint32_t current = __atomic_load_n(&separation, __ATOMIC_ACQUIRE);
  int cpu = __atomic_load_n(&npu_cpu, __ATOMIC_ACQUIRE);
  if (cpu < 0 || pinned == current || thread_id() == __atomic_load_n(&host_thread, __ATOMIC_ACQUIRE)) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_mutex_lock(&pin_lock);
  if (pinned_count < MAX_PINNED && sched_setaffinity(0, sizeof set, &set) == 0) pinned_threads[pinned_count++] = thread_id();
  pthread_mutex_unlock(&pin_lock);
  pinned = current;
#endif
}

static void sleep_until(uint64_t deadline, uint64_t spin_ns) {
  uint64_t now = now_ns();
  if (deadline > now + spin_ns) {
#ifdef __linux__
    uint64_t wake = deadline - spin_ns;
    struct timespec ts = { (time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
#else
    uint64_t left = deadline - spin_ns - now;
    struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
    nanosleep(&ts, NULL);
#endif
  }
  while (now_ns() < deadline) {}
}

/* The checks both execute slots make on their arguments. */
static qnn_error_t check_execute(void *graph, const void *inputs, uint32_t num_inputs, void *outputs, uint32_t num_outputs) {
  if (graph == NULL) return QNN_GRAPH_ERROR_INVALID_HANDLE;
  if ((num_inputs > 0 && inputs == NULL) || (num_outputs > 0 && outputs == NULL)) return QNN_GRAPH_ERROR_INVALID_ARGUMENT;
  return QNN_SUCCESS;
}

/* One execution from `start` on: the sleep, then the records (busy time, gap, thread). */
static void run_execution(uint64_t start) {
  pin_to_npu_cpu();
  if (!__atomic_load_n(&execute_us_set, __ATOMIC_ACQUIRE)) {
    const char *env = getenv("GENIE_NPU_SIM_EXECUTE_US");
    if (env != NULL) __atomic_store_n(&execute_us, (uint32_t)strtoul(env, NULL, 10), __ATOMIC_RELEASE);
    __atomic_store_n(&execute_us_set, 1, __ATOMIC_RELEASE);
  }
  uint64_t sleep_ns = (uint64_t)__atomic_load_n(&execute_us, __ATOMIC_ACQUIRE) * 1000ull;
  sleep_until(start + sleep_ns, (uint64_t)__atomic_load_n(&spin_us, __ATOMIC_ACQUIRE) * 1000ull);
  uint64_t end = now_ns();
  uint64_t took = end - start;
  uint64_t previous_end = __atomic_exchange_n(&last_end_ns, end, __ATOMIC_ACQ_REL);
  __atomic_add_fetch(&busy_ns, took, __ATOMIC_ACQ_REL);
  uint64_t n = __atomic_add_fetch(&execute_count, 1, __ATOMIC_ACQ_REL);
  __atomic_store_n(&gap_ns[n % GAP_RING], previous_end == 0 ? 0 : start - previous_end, __ATOMIC_RELEASE);
  __atomic_store_n(&notify_ns[n % GAP_RING], 0, __ATOMIC_RELEASE); /* a queued execution's notifier sets it */
  __atomic_store_n(&last_ns, took, __ATOMIC_RELEASE);
  __atomic_store_n(&last_thread, thread_id(), __ATOMIC_RELEASE);
}

/* ---- queued executions (graphExecuteAsync) ---- */

typedef void (*notify_fn)(void *param, uint64_t status); /* Qnn_NotifyFn_t: the status struct is one uint64 */

struct queued { notify_fn notify; void *param; uint64_t submitted; uint64_t ended; uint64_t n; };
#define QUEUE_CAPACITY 1024
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static struct queued executions[QUEUE_CAPACITY];   /* submitted, not yet run (ring) */
static uint64_t executions_head, executions_tail;
static int npu_running;                            /* the NPU thread is inside an execution */
static struct queued notifications[QUEUE_CAPACITY]; /* ended, not yet notified (ring) */
static uint64_t notifications_head, notifications_tail;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_started;

/* The NPU thread: runs the queued executions in submission order, then hands each to the notifier. */
static void *npu_thread(void *unused) {
  (void)unused;
  pthread_mutex_lock(&queue_lock);
  for (;;) {
    while (executions_head == executions_tail) pthread_cond_wait(&queue_changed, &queue_lock);
    struct queued job = executions[executions_head % QUEUE_CAPACITY];
    npu_running = 1;
    pthread_mutex_unlock(&queue_lock);
    /*
     * An accelerator starts a queued execution when the previous one ends, or when it is submitted
     * if that is later. This thread may be scheduled later than that on a busy host: its own delay
     * is not time the NPU waited for the host, so the execution is timed from that instant.
     */
    uint64_t previous_end = __atomic_load_n(&last_end_ns, __ATOMIC_ACQUIRE);
    run_execution(job.submitted > previous_end ? job.submitted : previous_end);
    job.ended = __atomic_load_n(&last_end_ns, __ATOMIC_ACQUIRE);
    job.n = __atomic_load_n(&execute_count, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&queue_lock);
    executions_head++;
    npu_running = 0;
    /* The notification ring holds at most what the execution ring held: never full here. */
    notifications[notifications_tail % QUEUE_CAPACITY] = job;
    notifications_tail++;
    pthread_cond_broadcast(&queue_changed);
  }
  return NULL;
}

/* The notifier thread: calls each notify function in turn (each call waits for the JS thread). */
static void *notifier_thread(void *unused) {
  (void)unused;
  pthread_mutex_lock(&queue_lock);
  for (;;) {
    while (notifications_head == notifications_tail) pthread_cond_wait(&queue_changed, &queue_lock);
    struct queued job = notifications[notifications_head % QUEUE_CAPACITY];
    pthread_mutex_unlock(&queue_lock);
    pin_to_npu_cpu();
    __atomic_store_n(&notify_ns[job.n % GAP_RING], now_ns() - job.ended, __ATOMIC_RELEASE);
    if (job.notify != NULL) job.notify(job.param, QNN_SUCCESS);
    pthread_mutex_lock(&queue_lock);
    notifications_head++;
    pthread_cond_broadcast(&queue_changed);
  }
  return NULL;
}

static void start_threads(void) {
  pthread_t npu, notifier;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  threads_started = pthread_create(&npu, &attr, npu_thread, NULL) == 0 && pthread_create(&notifier, &attr, notifier_thread, NULL) == 0;
  pthread_attr_destroy(&attr);
}

/* The replacement graphExecuteAsync (docs/qnn-abi.md#queued-execution): enqueue and return. */
static qnn_error_t npu_graph_execute_async(void *graph, const void *inputs, uint32_t num_inputs, void *outputs,
                                           uint32_t num_outputs, void *profile, void *signal, notify_fn notify,
                                           void *notify_param) {
  (void)profile;
  (void)signal;
  uint64_t submitted = now_ns();
  qnn_error_t status = check_execute(graph, inputs, num_inputs, outputs, num_outputs);
  if (status != QNN_SUCCESS) return status;
  pthread_once(&threads_once, start_threads);
  if (!threads_started) return QNN_COMMON_ERROR_GENERAL;
  pthread_mutex_lock(&queue_lock);
  /* A full queue blocks the submission until an execution ends (QNN's queue depth). */
  while (executions_tail - notifications_head >= QUEUE_CAPACITY) pthread_cond_wait(&queue_changed, &queue_lock);
  executions[executions_tail % QUEUE_CAPACITY] = (struct queued){ notify, notify_param, submitted };
  executions_tail++;
  pthread_cond_broadcast(&queue_changed);
  pthread_mutex_unlock(&queue_lock);
  return QNN_SUCCESS;
}

/* The replacement graphExecute (docs/qnn-abi.md#call-signatures): after whatever is queued, on the calling thread. */
static qnn_error_t npu_graph_execute(void *graph, const void *inputs, uint32_t num_inputs, void *outputs,
                                     uint32_t num_outputs, void *profile, void *signal) {
  (void)profile;
  (void)signal;
  qnn_error_t status = check_execute(graph, inputs, num_inputs, outputs, num_outputs);
  if (status != QNN_SUCCESS) return status;
  pthread_mutex_lock(&queue_lock);
  while (executions_head != executions_tail || npu_running) pthread_cond_wait(&queue_changed, &queue_lock);
  pthread_mutex_unlock(&queue_lock);
  run_execution(now_ns());
  return QNN_SUCCESS;
}

/* A "kB" line of /proc/self/status, in bytes; 0 where there is none. */
static uint64_t status_bytes(const char *key) {
  uint64_t value = 0;
#ifdef __linux__
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return 0;
  char line[256];
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      value = strtoull(line + n + 1, NULL, 10) * 1024ull;
      break;
    }
  }
  fclose(f);
#else
  (void)key;
#endif
  return value;
}

/* The replacement contextCreateFromBinary: reads the whole binary through the pointer, then the upstream's. */
static qnn_error_t npu_context_create(void *backend, void *device, const void *configs, const void *buffer,
                                      uint64_t size, void *out, void *profile) {
  if (buffer != NULL) {
    const volatile uint8_t *bytes = buffer;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < size; i++) sum += bytes[i];
    if (size >= __atomic_load_n(&loaded_size, __ATOMIC_ACQUIRE)) {
      __atomic_store_n(&loaded_size, size, __ATOMIC_RELEASE);
      __atomic_store_n(&loaded_sum, sum, __ATOMIC_RELEASE);
      __atomic_store_n(&loaded_rss_anon, status_bytes("RssAnon"), __ATOMIC_RELEASE);
      __atomic_store_n(&loaded_rss_file, status_bytes("RssFile"), __ATOMIC_RELEASE);
    }
  }
  uint64_t front = size;
  if (buffer != NULL && size >= PAD_TRAILER && memcmp((const uint8_t *)buffer + size - PAD_TRAILER, PAD_MAGIC, 8) == 0) {
    uint64_t length;
    memcpy(&length, (const uint8_t *)buffer + size - 8, 8); /* little-endian hosts only, as the bench */
    if (length > 0 && length <= size - PAD_TRAILER) front = length;
  }
  return upstream_context_create(backend, device, configs, buffer, front, out, profile);
}

static uint32_t slot_count(const uint8_t *provider) {
  uint32_t major, minor;
  memcpy(&major, provider + IFACE_CORE_API_MAJOR, 4);
  memcpy(&minor, provider + IFACE_CORE_API_MINOR, 4);
  if (major != 2) return 0;
  uint32_t n = 0;
  while (n < CORE_SLOTS && SLOT_SINCE_MINOR[n] <= minor) n++;
  return n;
}

/* Exported entry point of a QNN backend library: the upstream providers, graphExecute replaced. */
qnn_error_t QnnInterface_getProviders(const void ***list, uint32_t *count) {
  if (upstream_core == NULL) return 1004; /* COMMON INVALID_ARGUMENT: no upstream set */
  if (list == NULL || count == NULL) return 1004;
  const void **providers = NULL;
  uint32_t n = 0;
  qnn_error_t status = upstream_core(&providers, &n);
  if ((status & 0xffff) != QNN_SUCCESS) return status;
  if (n > MAX_PROVIDERS) n = MAX_PROVIDERS;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *source = providers[i];
    uint32_t slots = slot_count(source);
    size_t size = IFACE_TABLE + (size_t)slots * SLOT_SIZE;
    /* Never freed: a binding may keep a provider for the whole process, as with a real library. */
    uint8_t *copy = calloc(1, size < IFACE_TABLE + CORE_SLOTS * SLOT_SIZE ? IFACE_TABLE + CORE_SLOTS * SLOT_SIZE : size);
    if (copy == NULL) return 1002;
    memcpy(copy, source, size);
    void *execute = (void *)npu_graph_execute;
    void *current;
    memcpy(&current, copy + IFACE_TABLE + SLOT_GRAPH_EXECUTE * SLOT_SIZE, sizeof current);
    if (slots > SLOT_GRAPH_EXECUTE && current != NULL) {
      memcpy(copy + IFACE_TABLE + SLOT_GRAPH_EXECUTE * SLOT_SIZE, &execute, sizeof execute);
    }
    void *execute_async = (void *)npu_graph_execute_async;
    memcpy(&current, copy + IFACE_TABLE + SLOT_GRAPH_EXECUTE_ASYNC * SLOT_SIZE, sizeof current);
    if (slots > SLOT_GRAPH_EXECUTE_ASYNC && current != NULL) {
      memcpy(copy + IFACE_TABLE + SLOT_GRAPH_EXECUTE_ASYNC * SLOT_SIZE, &execute_async, sizeof execute_async);
    }
    void *create = (void *)npu_context_create;
    memcpy(&current, copy + IFACE_TABLE + SLOT_CONTEXT_CREATE_FROM_BINARY * SLOT_SIZE, sizeof current);
    if (slots > SLOT_CONTEXT_CREATE_FROM_BINARY && current != NULL && current != create) {
      upstream_context_create = (context_create_fn)current;
      memcpy(copy + IFACE_TABLE + SLOT_CONTEXT_CREATE_FROM_BINARY * SLOT_SIZE, &create, sizeof create);
    }
    provider_copies[i] = copy;
  }
  *list = provider_copies;
  *count = n;
  return QNN_SUCCESS;
}

/* Exported entry point of libQnnSystem: the upstream's, unchanged. */
qnn_error_t QnnSystemInterface_getProviders(const void ***list, uint32_t *count) {
  if (upstream_system == NULL) return 1004;
  return upstream_system(list, count);
}

/* Test controls. */
void genie_npu_sim_set_upstream(void *core, void *system) {
  upstream_core = (get_providers_fn)core;
  upstream_system = (get_providers_fn)system;
}

void genie_npu_sim_set_execute_us(uint32_t us) {
  __atomic_store_n(&execute_us, us, __ATOMIC_RELEASE);
  __atomic_store_n(&execute_us_set, 1, __ATOMIC_RELEASE);
}

void genie_npu_sim_set_spin_us(uint32_t us) { __atomic_store_n(&spin_us, us, __ATOMIC_RELEASE); }

/* Forgets what contextCreateFromBinary has read (genie_npu_sim_loaded_*). */
void genie_npu_sim_reset_loaded(void) {
  __atomic_store_n(&loaded_size, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&loaded_sum, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&loaded_rss_anon, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&loaded_rss_file, 0, __ATOMIC_RELEASE);
}

/* The largest binary contextCreateFromBinary has read since the reset (the latest of that size): the sum of its bytes, RssAnon / RssFile after the pass. */
double genie_npu_sim_loaded_sum(void) { return (double)__atomic_load_n(&loaded_sum, __ATOMIC_ACQUIRE); }
double genie_npu_sim_loaded_rss_anon(void) { return (double)__atomic_load_n(&loaded_rss_anon, __ATOMIC_ACQUIRE); }
double genie_npu_sim_loaded_rss_file(void) { return (double)__atomic_load_n(&loaded_rss_file, __ATOMIC_ACQUIRE); }

/* Microseconds spent in graphExecute since load (a double keeps JS free of BigInt). */
double genie_npu_sim_busy_us(void) { return (double)__atomic_load_n(&busy_ns, __ATOMIC_ACQUIRE) / 1000.0; }

double genie_npu_sim_execute_count(void) { return (double)__atomic_load_n(&execute_count, __ATOMIC_ACQUIRE); }

double genie_npu_sim_last_execute_us(void) { return (double)__atomic_load_n(&last_ns, __ATOMIC_ACQUIRE) / 1000.0; }

/* Idle time (from the previous execute's return) before execute number n (1-based), in microseconds. */
double genie_npu_sim_gap_us(double n) { return (double)__atomic_load_n(&gap_ns[(uint64_t)n % GAP_RING], __ATOMIC_ACQUIRE) / 1000.0; }

/* Thread id (Linux gettid) of the last graphExecute. */
double genie_npu_sim_notify_delay_us(double n) { return (double)__atomic_load_n(&notify_ns[(uint64_t)n % GAP_RING], __ATOMIC_ACQUIRE) / 1000.0; }
double genie_npu_sim_last_thread(void) { return (double)__atomic_load_n(&last_thread, __ATOMIC_ACQUIRE); }

/* Thread id of the caller, to compare with genie_npu_sim_last_thread. */
double genie_npu_sim_thread_id(void) { return (double)thread_id(); }

/*
 * Linux with 2 or more CPUs allowed: the NPU's threads get the last one, the calling thread the
 * others. Returns that CPU, or -1 (nothing moved: one CPU, not Linux, or already separated).
 * Call before the first execute; genie_npu_sim_rejoin undoes it.
 */
double genie_npu_sim_separate(void) {
#ifdef __linux__
  cpu_set_t allowed;
  if (__atomic_load_n(&npu_cpu, __ATOMIC_ACQUIRE) >= 0) return -1;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return -1;
  int last = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) if (CPU_ISSET(cpu, &allowed)) last = cpu;
  cpu_set_t host = allowed;
  CPU_CLR(last, &host);
  if (sched_setaffinity(0, sizeof host, &host) != 0) return -1;
  host_allowed = allowed;
  __atomic_store_n(&host_thread, thread_id(), __ATOMIC_RELEASE);
  __atomic_add_fetch(&separation, 1, __ATOMIC_ACQ_REL);
  __atomic_store_n(&npu_cpu, last, __ATOMIC_RELEASE);
  return last;
#else
  return -1;
#endif
}

/*
 * Undoes genie_npu_sim_separate (from the thread that called it): that thread and every thread moved
 * to the NPU's CPU get the host thread's former CPUs back (threads made later, e.g. workers, inherit
 * their creator's). Nothing happens when not separated.
 */
void genie_npu_sim_rejoin(void) {
#ifdef __linux__
  if (__atomic_load_n(&npu_cpu, __ATOMIC_ACQUIRE) < 0) return;
  __atomic_store_n(&npu_cpu, -1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&pin_lock);
  for (int i = 0; i < pinned_count; i++) sched_setaffinity((pid_t)pinned_threads[i], sizeof host_allowed, &host_allowed);
  pinned_count = 0;
  pthread_mutex_unlock(&pin_lock);
  sched_setaffinity(0, sizeof host_allowed, &host_allowed);
  __atomic_store_n(&host_thread, 0, __ATOMIC_RELEASE);
#endif
}
