/*
 * delayline: a fixed one-way delay for bench/wan, for kernels without sch_netem.
 *
 * Binds NFQUEUE queue Q in the current network namespace (netns.sh runs one per peer namespace,
 * with an nftables rule that queues the packets arriving on eth0) and releases every queued packet
 * DELAY_MS after it arrived, in arrival order. Packets are never copied to userspace (copy mode
 * META): only their ids come up, and one batch verdict (NFQNL_MSG_VERDICT_BATCH: "accept every id
 * <= N") releases all packets that are due, so the cost is a few system calls per millisecond at
 * line rate. Pipelined: any number of packets can be in flight (queue length QUEUE_MAX), so
 * throughput is not limited by the delay. Packets are queued at the receiver's ingress, after the
 * veth has orphaned them from the sender's socket, so TCP small queues on the sender are not
 * held back by the delay (as netem on the sender's own egress would be without its orphaning).
 *
 *   gcc -O2 -o delayline delayline.c && ip netns exec agns0 ./delayline 0 50
 *
 * Raw netlink only (linux/netfilter/nfnetlink_queue.h): no libnetfilter_queue needed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 65536u /* packets held at once; at 100 Mbit/s and 50 ms about 420 full-size packets */
#define RING 131072u     /* power of two, > QUEUE_MAX */

static int fd;
static uint16_t qnum;
static uint32_t seq;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "delayline: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* message builder: nlmsghdr + nfgenmsg + attributes */
struct msg {
  char buf[256];
  struct nlmsghdr *nh;
};

static void msg_init(struct msg *m, uint16_t type, uint16_t flags) {
  memset(m->buf, 0, sizeof m->buf);
  m->nh = (struct nlmsghdr *)m->buf;
  m->nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  m->nh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
  m->nh->nlmsg_flags = NLM_F_REQUEST | flags;
  m->nh->nlmsg_seq = ++seq;
  struct nfgenmsg *g = NLMSG_DATA(m->nh);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(qnum);
}

static void msg_attr(struct msg *m, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->nh->nlmsg_len));
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy((char *)a + NLA_HDRLEN, data, len);
  m->nh->nlmsg_len = NLMSG_ALIGN(m->nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void msg_send(struct msg *m) {
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  if (sendto(fd, m->buf, m->nh->nlmsg_len, 0, (struct sockaddr *)&k, sizeof k) < 0) die("sendto");
}

/* configuration requests are acknowledged; read the ack and fail on an error */
static void msg_send_ack(struct msg *m) {
  m->nh->nlmsg_flags |= NLM_F_ACK;
  msg_send(m);
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) die("recv ack");
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == m->nh->nlmsg_seq) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error != 0) {
          errno = -e->error;
          die("queue config");
        }
        return;
      }
    }
  }
}

static void verdict_upto(uint32_t id) {
  struct msg m;
  msg_init(&m, NFQNL_MSG_VERDICT_BATCH, 0);
  struct nfqnl_msg_verdict_hdr v = {.verdict = htonl(NF_ACCEPT), .id = htonl(id)};
  msg_attr(&m, NFQA_VERDICT_HDR, &v, sizeof v);
  msg_send(&m);
}

static volatile sig_atomic_t stop;
static void on_signal(int s) {
  (void)s;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: delayline QUEUE_NUM DELAY_MS\n");
    return 2;
  }
  qnum = (uint16_t)atoi(argv[1]);
  const uint64_t delay = (uint64_t)(atof(argv[2]) * 1e6);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  if (fd < 0) die("socket");
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  int big = 32 << 20, one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  struct msg m;
  msg_init(&m, NFQNL_MSG_CONFIG, 0);
  struct nfqnl_msg_config_cmd bindc = {.command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET)};
  msg_attr(&m, NFQA_CFG_CMD, &bindc, sizeof bindc);
  msg_send_ack(&m);

  msg_init(&m, NFQNL_MSG_CONFIG, 0);
  struct nfqnl_msg_config_params params = {.copy_range = htonl(0), .copy_mode = NFQNL_COPY_META};
  msg_attr(&m, NFQA_CFG_PARAMS, &params, sizeof params);
  uint32_t maxlen = htonl(QUEUE_MAX);
  msg_attr(&m, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof maxlen);
  uint32_t flags = htonl(NFQA_CFG_F_GSO), mask = htonl(NFQA_CFG_F_GSO);
  msg_attr(&m, NFQA_CFG_FLAGS, &flags, sizeof flags);
  msg_attr(&m, NFQA_CFG_MASK, &mask, sizeof mask);
  msg_send_ack(&m);
  fprintf(stderr, "delayline: queue %u, delay %.3f ms\n", qnum, delay / 1e6);

  /* FIFO of (id, due time); ids from one queue are increasing */
  static uint32_t ids[RING];
  static uint64_t due[RING];
  uint32_t head = 0, tail = 0;
  static char buf[1 << 20];
  struct pollfd p = {.fd = fd, .events = POLLIN};

  while (!stop) {
    uint64_t t = now_ns();
    /* release everything due with one batch verdict */
    uint32_t last = 0;
    int any = 0;
    while (head != tail && due[head & (RING - 1)] <= t) {
      last = ids[head & (RING - 1)];
      any = 1;
      head++;
    }
    if (any) verdict_upto(last);
    struct timespec to, *top = NULL;
    if (head != tail) {
      uint64_t w = due[head & (RING - 1)] - t;
      to.tv_sec = (time_t)(w / 1000000000ull);
      to.tv_nsec = (long)(w % 1000000000ull);
      top = &to;
    }
    int r = ppoll(&p, 1, top, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (r == 0) continue;
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        if (errno == ENOBUFS) continue;
        die("recv");
      }
      uint64_t arrived = now_ns();
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if ((h->nlmsg_type & 0xff) != NFQNL_MSG_PACKET || (h->nlmsg_type >> 8) != NFNL_SUBSYS_QUEUE) continue;
        int alen = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
        struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
        for (; alen >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= alen;
             alen -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
          if ((a->nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR) continue;
          struct nfqnl_msg_packet_hdr *ph = (struct nfqnl_msg_packet_hdr *)((char *)a + NLA_HDRLEN);
          if (tail - head >= RING) { /* cannot happen with QUEUE_MAX < RING; release the oldest */
            verdict_upto(ids[head & (RING - 1)]);
            head++;
          }
          ids[tail & (RING - 1)] = ntohl(ph->packet_id);
          due[tail & (RING - 1)] = arrived + delay;
          tail++;
          break;
        }
      }
    }
  }
  /* release whatever is still held */
  if (head != tail) verdict_upto(ids[(tail - 1) & (RING - 1)]);
  return 0;
}
