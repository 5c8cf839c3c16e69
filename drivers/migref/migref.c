// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * migref: a reference mdev driver for the proposed migration_version sysfs
 * interface, with VFIO migration v2 (STOP_COPY, P2P).
 *
 * One virtual parent "migref" offers three types that share a pool of units:
 * migref-small and migref-large migrate, migref-nomig does not. Each mdev is
 * a minimal PCI function (config space only: no BAR, no interrupt). Its
 * migration state carries a header naming its type and the driver version
 * that saved it; the load side accepts exactly what the sysfs attributes
 * promise, and fails the load otherwise.
 *
 * The ABI is described in docs/reference-driver.md of the repository.
 */

#include <linux/anon_inodes.h>
#include <linux/ctype.h>
#include <linux/file.h>
#include <linux/kernel.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/vfio.h>

#define MIGREF_NAME		"migref"
#define MIGREF_VENDOR		"migref"
#define MIGREF_POOL_UNITS	8
#define MIGREF_MAX_ACCEPTS	8
/* Longest version string this driver could ever accept, newline included. */
#define MIGREF_VERSION_MAX	64
/* Reads of a migration attribute at this offset return the last refusal. */
#define MIGREF_REASON_OFFSET	4096
#define MIGREF_REASON_MAX	256
#define MIGREF_ANSWER_MAX	1024
#define MIGREF_OPEN_SLOTS	32

#define MIGREF_CONFIG_SIZE	256
#define MIGREF_REGION_SHIFT	40
#define MIGREF_REGION_OFFSET(i)	((u64)(i) << MIGREF_REGION_SHIFT)
#define MIGREF_PCI_VENDOR	0x1b36	/* test-only ids, never for a product */
#define MIGREF_PCI_DEVICE	0x10f0
#define MIGREF_PCI_CLASS	0xff0000	/* unassigned class */

#define MIGREF_STATE_MAGIC	0x4652474d	/* "MGRF" */
#define MIGREF_STATE_FORMAT	1
#define MIGREF_TYPE_NAME_SIZE	16

static char *version = "1.0";
module_param(version, charp, 0444);
MODULE_PARM_DESC(version, "driver version this instance runs, MAJOR.MINOR (default 1.0)");

static char *accepts;
module_param(accepts, charp, 0444);
MODULE_PARM_DESC(accepts, "comma-separated driver versions whose state it loads (default: its own version); must include its own");

struct migref_version {
	u16 major;
	u16 minor;
};

static struct migref_version own_version;
static struct migref_version accepted[MIGREF_MAX_ACCEPTS];
static unsigned int nr_accepted;

/*
 * The migration state, little-endian. The header is validated as soon as it
 * has arrived on the destination; the payload is the function's config space.
 */
struct migref_state_header {
	__le32 magic;
	__le16 format;
	__le16 header_size;
	char type[MIGREF_TYPE_NAME_SIZE];	/* type id, NUL-padded */
	__le16 major;
	__le16 minor;
	__le32 payload_size;
} __packed;

struct migref_state {
	struct migref_state_header header;
	u8 config[MIGREF_CONFIG_SIZE];
} __packed;

struct migref_type {
	struct mdev_type type;
	const char *id;		/* the sysfs directory name */
	unsigned int units;
	bool migratable;
};

static struct migref_type migref_types[] = {
	{ .type.sysfs_name = "small", .type.pretty_name = "Small profile",
	  .id = MIGREF_NAME "-small", .units = 1, .migratable = true },
	{ .type.sysfs_name = "large", .type.pretty_name = "Large profile",
	  .id = MIGREF_NAME "-large", .units = 4, .migratable = true },
	{ .type.sysfs_name = "nomig", .type.pretty_name = "No-migration profile",
	  .id = MIGREF_NAME "-nomig", .units = 2, .migratable = false },
};

static struct mdev_type *migref_mdev_types[] = {
	&migref_types[0].type,
	&migref_types[1].type,
	&migref_types[2].type,
};

struct migref_file {
	struct mutex lock;	/* protects data, size, disabled */
	struct file *filp;
	struct migref_device *mdev_state;
	struct migref_state data;
	size_t size;		/* bytes produced (save) or received (load) */
	bool disabled;
};

struct migref_device {
	struct vfio_device vdev;
	struct migref_type *type;
	struct list_head next;		/* on migref_parent.devices */
	bool in_use;			/* opened by a VFIO user */

	struct mutex state_lock;	/* protects everything below */
	enum vfio_device_mig_state mig_state;
	struct migref_file *saving;
	struct migref_file *resuming;
	u8 config[MIGREF_CONFIG_SIZE];
};

static struct migref_parent {
	struct device dev;
	struct mdev_parent parent;
	struct class *class;
	/* protects units_left, devices and each device's in_use */
	struct mutex devices_lock;
	unsigned int units_left;
	struct list_head devices;
} migref_parent;

/* --- versions ---------------------------------------------------------- */

static bool migref_canonical_number(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!isdigit(*p))
			return false;
	return p != s && (s[0] != '0' || !s[1]);
}

/* Parses "MAJOR.MINOR" of exactly len bytes. */
static int migref_parse_version(const char *s, size_t len,
				struct migref_version *v)
{
	char buf[16];
	char *dot;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	dot = strchr(buf, '.');
	if (!dot || dot == buf || !dot[1])
		return -EINVAL;
	*dot = '\0';
	/*
	 * One spelling per version: digits only, no leading zero (kstrtou16
	 * alone would take "+2", "02" and a trailing newline).
	 */
	if (!migref_canonical_number(buf) || !migref_canonical_number(dot + 1))
		return -EINVAL;
	if (kstrtou16(buf, 10, &v->major) || kstrtou16(dot + 1, 10, &v->minor))
		return -EINVAL;
	return 0;
}

static bool migref_version_accepted(struct migref_version v)
{
	unsigned int i;

	for (i = 0; i < nr_accepted; i++)
		if (accepted[i].major == v.major && accepted[i].minor == v.minor)
			return true;
	return false;
}

static int migref_parse_params(void)
{
	const char *list = accepts ? accepts : version;
	const char *p = list;

	if (!version || migref_parse_version(version, strlen(version),
					     &own_version)) {
		pr_err(MIGREF_NAME ": version=%s is not MAJOR.MINOR\n",
		       version ? version : "(null)");
		return -EINVAL;
	}
	nr_accepted = 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (nr_accepted == MIGREF_MAX_ACCEPTS ||
		    migref_parse_version(p, len, &accepted[nr_accepted])) {
			pr_err(MIGREF_NAME ": accepts=%s: at most %d MAJOR.MINOR versions, comma-separated\n",
			       list, MIGREF_MAX_ACCEPTS);
			return -EINVAL;
		}
		nr_accepted++;
		p += len;
		if (*p)
			p++;
	}
	if (!migref_version_accepted(own_version)) {
		pr_err(MIGREF_NAME ": accepts=%s does not include its own version %s\n",
		       list, version);
		return -EINVAL;
	}
	return 0;
}

/* Writes "<type id>:<major>.<minor>\n", the version string of an instance. */
static int migref_version_string(const struct migref_type *type, char *buf,
				 size_t size)
{
	return scnprintf(buf, size, "%s:%u.%u\n", type->id, own_version.major,
			 own_version.minor);
}

static int migref_accepted_list(char *buf, size_t size)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < nr_accepted; i++)
		len += scnprintf(buf + len, size - len, "%s%u.%u",
				 i ? ", " : "", accepted[i].major,
				 accepted[i].minor);
	return len;
}

/*
 * The one rule, used by the sysfs attributes and by the load of a migration
 * stream: state of type @src_type saved by driver version @v loads into an
 * instance of @dst iff the types are equal and @v is accepted. Returns 0 or
 * -EINVAL with a reason in @reason (starting with the vendor name).
 */
static int migref_check(const struct migref_type *dst, const char *src_type,
			struct migref_version v, char *reason, size_t size)
{
	char list[MIGREF_MAX_ACCEPTS * 12];

	if (strcmp(src_type, dst->id)) {
		scnprintf(reason, size,
			  MIGREF_VENDOR ": state of type %s cannot load into %s (types differ)",
			  src_type, dst->id);
		return -EINVAL;
	}
	if (!migref_version_accepted(v)) {
		migref_accepted_list(list, sizeof(list));
		scnprintf(reason, size,
			  MIGREF_VENDOR ": driver %u.%u loads state of versions %s, not %u.%u",
			  own_version.major, own_version.minor, list, v.major,
			  v.minor);
		return -EINVAL;
	}
	return 0;
}

/*
 * Parses a version string written by userspace (@len bytes, not
 * NUL-terminated; one trailing newline allowed) into the type id and the
 * driver version it names.
 */
static int migref_parse_string(const char *s, size_t len, char *src_type,
			       struct migref_version *v, char *reason,
			       size_t size)
{
	const char *colon;
	size_t i;

	if (len && s[len - 1] == '\n')
		len--;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			scnprintf(reason, size,
				  MIGREF_VENDOR ": not a version string (byte %zu is not printable ASCII)",
				  i);
			return -EINVAL;
		}
	}
	colon = memchr(s, ':', len);
	if (len >= MIGREF_VERSION_MAX || !colon ||
	    colon - s >= MIGREF_TYPE_NAME_SIZE ||
	    strncmp(s, MIGREF_NAME "-", strlen(MIGREF_NAME "-")) ||
	    migref_parse_version(colon + 1, len - (colon + 1 - s), v)) {
		scnprintf(reason, size,
			  MIGREF_VENDOR ": not a " MIGREF_VENDOR " version string (expected %s-<type>:<major>.<minor>)",
			  MIGREF_NAME);
		return -EINVAL;
	}
	memcpy(src_type, s, colon - s);
	src_type[colon - s] = '\0';
	return 0;
}

/* Checks a version string written by userspace against type @dst. */
static int migref_check_string(const struct migref_type *dst, const char *s,
			       size_t len, char *reason, size_t size)
{
	char src_type[MIGREF_TYPE_NAME_SIZE];
	struct migref_version v;
	int ret;

	ret = migref_parse_string(s, len, src_type, &v, reason, size);
	return ret ? ret : migref_check(dst, src_type, v, reason, size);
}

/* --- per-open state of the migration attributes ------------------------ */

/*
 * sysfs gives binary attributes the struct file of each open, but no release
 * callback. A bounded table keeps the state of the most recent opens; each
 * slot pins its file so that its address cannot be reused by another open
 * while the slot exists. The least recently used slot is dropped first.
 */
struct migref_open {
	struct file *file;
	u64 last_use;
	bool asked;
	size_t answer_len;
	size_t reason_len;
	char answer[MIGREF_ANSWER_MAX];
	char reason[MIGREF_REASON_MAX];
};

static DEFINE_MUTEX(open_slots_lock);	/* protects open_slots, open_clock */
static struct migref_open open_slots[MIGREF_OPEN_SLOTS];
static u64 open_clock;

/* The slot of @file, or NULL; with @claim a new slot when it has none. */
static struct migref_open *migref_open_find(struct file *file, bool claim)
{
	struct migref_open *slot, *victim = &open_slots[0];

	lockdep_assert_held(&open_slots_lock);
	for (slot = open_slots; slot < open_slots + MIGREF_OPEN_SLOTS; slot++) {
		if (slot->file == file) {
			slot->last_use = ++open_clock;
			return slot;
		}
		if (!slot->file || (victim->file &&
				    slot->last_use < victim->last_use))
			victim = slot;
	}
	if (!claim)
		return NULL;
	if (victim->file)
		fput(victim->file);
	memset(victim, 0, sizeof(*victim));
	victim->file = get_file(file);
	victim->last_use = ++open_clock;
	return victim;
}

static void migref_open_release_all(void)
{
	struct migref_open *slot;

	mutex_lock(&open_slots_lock);
	for (slot = open_slots; slot < open_slots + MIGREF_OPEN_SLOTS; slot++) {
		if (slot->file)
			fput(slot->file);
		memset(slot, 0, sizeof(*slot));
	}
	mutex_unlock(&open_slots_lock);
}

static void migref_open_keep_reason(struct migref_open *slot,
				    const char *reason)
{
	strscpy(slot->reason, reason, sizeof(slot->reason));
	slot->reason_len = strlen(slot->reason);
}

/* Records the outcome of a write on @file: @reason on refusal, else none. */
static void migref_open_set_reason(struct file *file, int ret,
				   const char *reason)
{
	struct migref_open *slot;

	mutex_lock(&open_slots_lock);
	slot = migref_open_find(file, ret != 0);
	if (slot) {
		/* A refused question leaves nothing asked on this file. */
		slot->asked = false;
		migref_open_keep_reason(slot, ret ? reason : "");
	}
	mutex_unlock(&open_slots_lock);
}

/* Copies the part of @text (@len bytes) at @pos into @buf. */
static ssize_t migref_read_text(char *buf, loff_t pos, size_t count,
				const char *text, size_t len)
{
	if (pos < 0 || pos >= len)
		return 0;
	count = min_t(size_t, count, len - pos);
	memcpy(buf, text + pos, count);
	return count;
}

/*
 * A read below MIGREF_REASON_OFFSET returns @text; at and above it, the
 * reason of the last refusal on this open file (empty when there is none).
 */
static ssize_t migref_read_attr(struct file *file, char *buf, loff_t pos,
				size_t count, const char *text, size_t len)
{
	struct migref_open *slot;
	ssize_t ret = 0;

	if (pos < MIGREF_REASON_OFFSET)
		return migref_read_text(buf, pos, count, text, len);
	mutex_lock(&open_slots_lock);
	slot = migref_open_find(file, false);
	if (slot)
		ret = migref_read_text(buf, pos - MIGREF_REASON_OFFSET, count,
				       slot->reason, slot->reason_len);
	mutex_unlock(&open_slots_lock);
	return ret;
}

/* The version check behind both migration_version attributes. */
static ssize_t migref_write_version(struct file *file,
				    const struct migref_type *type,
				    const char *buf, loff_t pos, size_t count)
{
	char reason[MIGREF_REASON_MAX];
	int ret;

	if (pos) {
		scnprintf(reason, sizeof(reason),
			  MIGREF_VENDOR ": write the version in one write at offset 0");
		ret = -EINVAL;
	} else {
		ret = migref_check_string(type, buf, count, reason,
					  sizeof(reason));
	}
	migref_open_set_reason(file, ret, reason);
	return ret ? ret : count;
}

/* --- sysfs: mdev_supported_types/<type>/migration_version ---------------- */

static struct migref_type *kobj_to_migref_type(struct kobject *kobj)
{
	return container_of(kobj, struct migref_type, type.kobj);
}

static ssize_t type_version_read(struct file *file, struct kobject *kobj,
				 struct bin_attribute *attr, char *buf,
				 loff_t pos, size_t count)
{
	char text[MIGREF_VERSION_MAX];
	int len = migref_version_string(kobj_to_migref_type(kobj), text,
					sizeof(text));

	return migref_read_attr(file, buf, pos, count, text, len);
}

static ssize_t type_version_write(struct file *file, struct kobject *kobj,
				  struct bin_attribute *attr, char *buf,
				  loff_t pos, size_t count)
{
	return migref_write_version(file, kobj_to_migref_type(kobj), buf, pos,
				    count);
}

static struct bin_attribute type_version_attr = {
	.attr = { .name = "migration_version", .mode = 0644 },
	.read = type_version_read,
	.write = type_version_write,
};

/* --- sysfs: <mdev>/migration_version ------------------------------------- */

static struct migref_device *kobj_to_migref_device(struct kobject *kobj)
{
	return dev_get_drvdata(kobj_to_dev(kobj));
}

static ssize_t device_version_read(struct file *file, struct kobject *kobj,
				   struct bin_attribute *attr, char *buf,
				   loff_t pos, size_t count)
{
	char text[MIGREF_VERSION_MAX];
	int len = migref_version_string(kobj_to_migref_device(kobj)->type,
					text, sizeof(text));

	return migref_read_attr(file, buf, pos, count, text, len);
}

static ssize_t device_version_write(struct file *file, struct kobject *kobj,
				    struct bin_attribute *attr, char *buf,
				    loff_t pos, size_t count)
{
	return migref_write_version(file, kobj_to_migref_device(kobj)->type,
				    buf, pos, count);
}

static struct bin_attribute device_version_attr = {
	.attr = { .name = "migration_version", .mode = 0644 },
	.read = device_version_read,
	.write = device_version_write,
};

static struct bin_attribute *device_bin_attrs[] = {
	&device_version_attr,
	NULL,
};

static umode_t device_bin_visible(struct kobject *kobj,
				  struct bin_attribute *attr, int n)
{
	struct mdev_device *mdev = to_mdev_device(kobj_to_dev(kobj));

	return container_of(mdev->type, struct migref_type, type)->migratable ?
		attr->attr.mode : 0;
}

static const struct attribute_group device_group = {
	.bin_attrs = device_bin_attrs,
	.is_bin_visible = device_bin_visible,
};

static const struct attribute_group *device_groups[] = {
	&device_group,
	NULL,
};

/* --- sysfs: <parent>/migration_query (write and ask) ----------------------- */

/*
 * Appends to @answer the configurations on the parent that accept state of
 * type @src_type saved by driver version @v: idle instances first (oldest
 * first), then the type when it can still create one. Returns the new length;
 * when nothing accepts, @reason says why. Called with devices_lock held.
 */
static size_t migref_answer(const char *src_type, struct migref_version v,
			    char *answer, size_t len, size_t size,
			    char *reason, size_t reason_size)
{
	const struct migref_type *match = NULL;
	struct migref_device *mdev_state;
	size_t start = len;
	unsigned int i;

	lockdep_assert_held(&migref_parent.devices_lock);
	for (i = 0; i < ARRAY_SIZE(migref_types); i++)
		if (migref_types[i].migratable &&
		    !strcmp(migref_types[i].id, src_type))
			match = &migref_types[i];
	if (!match) {
		scnprintf(reason, reason_size,
			  MIGREF_VENDOR ": no migratable type %s on this parent",
			  src_type);
		return len;
	}
	if (migref_check(match, src_type, v, reason, reason_size))
		return len;
	list_for_each_entry(mdev_state, &migref_parent.devices, next)
		if (mdev_state->type == match && !mdev_state->in_use)
			len += scnprintf(answer + len, size - len, "mdev %pUl\n",
					 &to_mdev_device(mdev_state->vdev.dev)->uuid);
	if (migref_parent.units_left >= match->units)
		len += scnprintf(answer + len, size - len, "type %s\n",
				 match->id);
	if (len == start)
		scnprintf(reason, reason_size,
			  MIGREF_VENDOR ": %s accepts this state, but has no idle instance and no capacity left",
			  match->id);
	return len;
}

/*
 * Writing a version string asks the question; the open file then reads as
 * the question followed by the answer, so a plain read after the write
 * returns the answer.
 */
static ssize_t query_write(struct file *file, struct kobject *kobj,
			   struct bin_attribute *attr, char *buf, loff_t pos,
			   size_t count)
{
	char src_type[MIGREF_TYPE_NAME_SIZE];
	char reason[MIGREF_REASON_MAX] = "";
	struct migref_open *slot;
	struct migref_version v;
	size_t len;
	int ret;

	if (pos) {
		scnprintf(reason, sizeof(reason),
			  MIGREF_VENDOR ": write the version in one write at offset 0");
		ret = -EINVAL;
	} else {
		ret = migref_parse_string(buf, count, src_type, &v, reason,
					  sizeof(reason));
	}
	if (ret) {
		migref_open_set_reason(file, ret, reason);
		return ret;
	}
	/* A version string is shorter than MIGREF_VERSION_MAX: it fits. */
	mutex_lock(&open_slots_lock);
	slot = migref_open_find(file, true);
	memcpy(slot->answer, buf, count);
	mutex_lock(&migref_parent.devices_lock);
	len = migref_answer(src_type, v, slot->answer, count,
			    sizeof(slot->answer), reason, sizeof(reason));
	mutex_unlock(&migref_parent.devices_lock);
	slot->answer_len = len;
	slot->asked = true;
	migref_open_keep_reason(slot, len > count ? "" : reason);
	mutex_unlock(&open_slots_lock);
	return count;
}

static ssize_t query_read(struct file *file, struct kobject *kobj,
			  struct bin_attribute *attr, char *buf, loff_t pos,
			  size_t count)
{
	struct migref_open *slot;
	ssize_t ret;

	if (pos >= MIGREF_REASON_OFFSET)
		return migref_read_attr(file, buf, pos, count, NULL, 0);
	mutex_lock(&open_slots_lock);
	slot = migref_open_find(file, false);
	if (slot && slot->asked)
		ret = migref_read_text(buf, pos, count, slot->answer,
				       slot->answer_len);
	else
		ret = -ENODATA;	/* nothing asked on this open file (yet) */
	mutex_unlock(&open_slots_lock);
	return ret;
}

static struct bin_attribute query_attr = {
	.attr = { .name = "migration_query", .mode = 0600 },
	.read = query_read,
	.write = query_write,
};

static struct bin_attribute *parent_bin_attrs[] = {
	&query_attr,
	NULL,
};

static const struct attribute_group parent_group = {
	.bin_attrs = parent_bin_attrs,
};

static const struct attribute_group *parent_groups[] = {
	&parent_group,
	NULL,
};

/* --- PCI config space ---------------------------------------------------- */

/* Bits the guest may change; everything else reads as initialised. */
static const u8 config_write_mask[MIGREF_CONFIG_SIZE] = {
	[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
			PCI_COMMAND_MASTER,
	[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8,
	[PCI_INTERRUPT_LINE] = 0xff,
};

static void migref_init_config(u8 *config)
{
	memset(config, 0, MIGREF_CONFIG_SIZE);
	put_unaligned_le16(MIGREF_PCI_VENDOR, config + PCI_VENDOR_ID);
	put_unaligned_le16(MIGREF_PCI_DEVICE, config + PCI_DEVICE_ID);
	put_unaligned_le32(MIGREF_PCI_CLASS << 8 | 1, config + PCI_CLASS_REVISION);
	put_unaligned_le16(MIGREF_PCI_VENDOR, config + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(MIGREF_PCI_DEVICE, config + PCI_SUBSYSTEM_ID);
}

/* The part of the config region at *@ppos that @count bytes may touch. */
static ssize_t migref_config_range(loff_t *ppos, size_t count, size_t *pos)
{
	u64 offset = *ppos & (MIGREF_REGION_OFFSET(1) - 1);

	if (*ppos < 0 ||
	    *ppos >> MIGREF_REGION_SHIFT != VFIO_PCI_CONFIG_REGION_INDEX ||
	    offset >= MIGREF_CONFIG_SIZE)
		return -EINVAL;
	*pos = offset;
	return min_t(size_t, count, MIGREF_CONFIG_SIZE - offset);
}

static ssize_t migref_read(struct vfio_device *vdev, char __user *buf,
			   size_t count, loff_t *ppos)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);
	u8 data[MIGREF_CONFIG_SIZE];
	ssize_t len;
	size_t pos;

	len = migref_config_range(ppos, count, &pos);
	if (len < 0)
		return len;
	mutex_lock(&mdev_state->state_lock);
	memcpy(data, mdev_state->config + pos, len);
	mutex_unlock(&mdev_state->state_lock);
	if (copy_to_user(buf, data, len))
		return -EFAULT;
	*ppos += len;
	return len;
}

static ssize_t migref_write(struct vfio_device *vdev, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);
	u8 data[MIGREF_CONFIG_SIZE];
	ssize_t len, i;
	size_t pos;

	len = migref_config_range(ppos, count, &pos);
	if (len < 0)
		return len;
	if (copy_from_user(data, buf, len))
		return -EFAULT;
	mutex_lock(&mdev_state->state_lock);
	for (i = 0; i < len; i++) {
		u8 mask = config_write_mask[pos + i];
		u8 *reg = &mdev_state->config[pos + i];

		*reg = (*reg & ~mask) | (data[i] & mask);
	}
	mutex_unlock(&mdev_state->state_lock);
	*ppos += len;
	return len;
}

/* --- migration files ------------------------------------------------------ */

static void migref_disable_file(struct migref_file *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mutex_unlock(&migf->lock);
	fput(migf->filp);
}

/* Called with state_lock held. */
static void migref_disable_files(struct migref_device *mdev_state)
{
	lockdep_assert_held(&mdev_state->state_lock);
	if (mdev_state->saving) {
		migref_disable_file(mdev_state->saving);
		mdev_state->saving = NULL;
	}
	if (mdev_state->resuming) {
		migref_disable_file(mdev_state->resuming);
		mdev_state->resuming = NULL;
	}
}

static int migref_file_release(struct inode *inode, struct file *filp)
{
	struct migref_file *migf = filp->private_data;

	mutex_destroy(&migf->lock);
	kfree(migf);
	return 0;
}

static ssize_t migref_save_read(struct file *filp, char __user *buf,
				size_t len, loff_t *pos)
{
	struct migref_file *migf = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;
	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
	} else if (*pos < 0 || *pos > migf->size) {
		ret = -EINVAL;
	} else {
		len = min_t(size_t, len, migf->size - *pos);
		if (copy_to_user(buf, (u8 *)&migf->data + *pos, len)) {
			ret = -EFAULT;
		} else {
			*pos += len;
			ret = len;
		}
	}
	mutex_unlock(&migf->lock);
	return ret;
}

/* Validates a complete header against the destination device. */
static int migref_check_header(struct migref_device *mdev_state,
			       const struct migref_state_header *h)
{
	char type[MIGREF_TYPE_NAME_SIZE + 1];
	char reason[MIGREF_REASON_MAX];
	struct migref_version v;
	int ret;

	if (le32_to_cpu(h->magic) != MIGREF_STATE_MAGIC ||
	    le16_to_cpu(h->format) != MIGREF_STATE_FORMAT ||
	    le16_to_cpu(h->header_size) != sizeof(*h) ||
	    le32_to_cpu(h->payload_size) != MIGREF_CONFIG_SIZE) {
		dev_warn(mdev_state->vdev.dev,
			 MIGREF_VENDOR ": migration stream is not migref state format %d\n",
			 MIGREF_STATE_FORMAT);
		return -EINVAL;
	}
	memcpy(type, h->type, MIGREF_TYPE_NAME_SIZE);
	type[MIGREF_TYPE_NAME_SIZE] = '\0';
	v.major = le16_to_cpu(h->major);
	v.minor = le16_to_cpu(h->minor);
	ret = migref_check(mdev_state->type, type, v, reason, sizeof(reason));
	if (ret)
		dev_warn(mdev_state->vdev.dev, "load refused: %s\n", reason);
	return ret;
}

static ssize_t migref_resume_write(struct file *filp, const char __user *buf,
				   size_t len, loff_t *pos)
{
	struct migref_file *migf = filp->private_data;
	const size_t header_size = sizeof(struct migref_state_header);
	loff_t end;
	ssize_t ret;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;
	if (*pos < 0 || check_add_overflow((loff_t)len, *pos, &end) ||
	    end > sizeof(migf->data))
		return -EINVAL;
	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (copy_from_user((u8 *)&migf->data + *pos, buf, len)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	/* Refuse as soon as the header is complete: the load fails in the stream. */
	if (*pos < header_size && end >= header_size) {
		ret = migref_check_header(migf->mdev_state, &migf->data.header);
		if (ret)
			goto out_unlock;
	}
	*pos = end;
	migf->size = max_t(size_t, migf->size, end);
	ret = len;
out_unlock:
	mutex_unlock(&migf->lock);
	return ret;
}

static const struct file_operations migref_save_fops = {
	.owner = THIS_MODULE,
	.read = migref_save_read,
	.release = migref_file_release,
};

static const struct file_operations migref_resume_fops = {
	.owner = THIS_MODULE,
	.write = migref_resume_write,
	.release = migref_file_release,
};

static struct migref_file *migref_new_file(struct migref_device *mdev_state,
					   bool save)
{
	struct migref_file *migf;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	migf->mdev_state = mdev_state;
	if (save) {
		struct migref_state_header *h = &migf->data.header;

		h->magic = cpu_to_le32(MIGREF_STATE_MAGIC);
		h->format = cpu_to_le16(MIGREF_STATE_FORMAT);
		h->header_size = cpu_to_le16(sizeof(*h));
		strscpy_pad(h->type, mdev_state->type->id, sizeof(h->type));
		h->major = cpu_to_le16(own_version.major);
		h->minor = cpu_to_le16(own_version.minor);
		h->payload_size = cpu_to_le32(MIGREF_CONFIG_SIZE);
		memcpy(migf->data.config, mdev_state->config,
		       MIGREF_CONFIG_SIZE);
		migf->size = sizeof(migf->data);
	}
	migf->filp = anon_inode_getfile("migref_mig",
					save ? &migref_save_fops :
					       &migref_resume_fops,
					migf, save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(migf->filp)) {
		struct file *err = migf->filp;

		mutex_destroy(&migf->lock);
		kfree(migf);
		return ERR_CAST(err);
	}
	stream_open(migf->filp->f_inode, migf->filp);
	return migf;
}

/* Loads the received state; called with state_lock held. */
static int migref_load(struct migref_device *mdev_state)
{
	struct migref_file *migf = mdev_state->resuming;
	int ret;

	mutex_lock(&migf->lock);
	if (migf->size != sizeof(migf->data))
		ret = -EINVAL;
	else
		ret = migref_check_header(mdev_state, &migf->data.header);
	if (!ret)
		memcpy(mdev_state->config, migf->data.config,
		       MIGREF_CONFIG_SIZE);
	mutex_unlock(&migf->lock);
	return ret;
}

/* One arc of the migration state machine; called with state_lock held. */
static struct file *migref_step(struct migref_device *mdev_state,
				enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = mdev_state->mig_state;
	struct migref_file *migf;
	int ret;

	/* The function does no DMA and runs nothing: these arcs are no-ops. */
	if ((cur == VFIO_DEVICE_STATE_RUNNING &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	     (next == VFIO_DEVICE_STATE_RUNNING ||
	      next == VFIO_DEVICE_STATE_STOP)) ||
	    (cur == VFIO_DEVICE_STATE_STOP &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P))
		return NULL;
	if (cur == VFIO_DEVICE_STATE_STOP_COPY &&
	    next == VFIO_DEVICE_STATE_STOP) {
		migref_disable_files(mdev_state);
		return NULL;
	}
	if (cur == VFIO_DEVICE_STATE_RESUMING &&
	    next == VFIO_DEVICE_STATE_STOP) {
		ret = migref_load(mdev_state);
		if (ret)
			return ERR_PTR(ret);
		migref_disable_files(mdev_state);
		return NULL;
	}
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    (next == VFIO_DEVICE_STATE_STOP_COPY ||
	     next == VFIO_DEVICE_STATE_RESUMING)) {
		bool save = next == VFIO_DEVICE_STATE_STOP_COPY;

		migf = migref_new_file(mdev_state, save);
		if (IS_ERR(migf))
			return ERR_CAST(migf);
		if (save)
			mdev_state->saving = migf;
		else
			mdev_state->resuming = migf;
		/* One reference for the device, one for the caller. */
		return get_file(migf->filp);
	}
	/* vfio_mig_get_next_state() uses no other arc for these flags. */
	WARN_ON(true);
	return ERR_PTR(-EINVAL);
}

static struct file *migref_set_state(struct vfio_device *vdev,
				     enum vfio_device_mig_state new_state)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);
	enum vfio_device_mig_state next;
	struct file *ret = NULL;
	int err;

	mutex_lock(&mdev_state->state_lock);
	while (mdev_state->mig_state != new_state) {
		err = vfio_mig_get_next_state(vdev, mdev_state->mig_state,
					      new_state, &next);
		if (err) {
			ret = ERR_PTR(err);
			break;
		}
		ret = migref_step(mdev_state, next);
		if (IS_ERR(ret))
			break;
		mdev_state->mig_state = next;
		if (WARN_ON(ret && next != new_state)) {
			fput(ret);
			ret = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&mdev_state->state_lock);
	return ret;
}

static int migref_get_state(struct vfio_device *vdev,
			    enum vfio_device_mig_state *state)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);

	mutex_lock(&mdev_state->state_lock);
	*state = mdev_state->mig_state;
	mutex_unlock(&mdev_state->state_lock);
	return 0;
}

static int migref_get_data_size(struct vfio_device *vdev,
				unsigned long *stop_copy_length)
{
	*stop_copy_length = sizeof(struct migref_state);
	return 0;
}

static const struct vfio_migration_ops migref_migration_ops = {
	.migration_set_state = migref_set_state,
	.migration_get_state = migref_get_state,
	.migration_get_data_size = migref_get_data_size,
};

/* --- VFIO device ---------------------------------------------------------- */

static void migref_reset(struct migref_device *mdev_state)
{
	mutex_lock(&mdev_state->state_lock);
	migref_disable_files(mdev_state);
	mdev_state->mig_state = VFIO_DEVICE_STATE_RUNNING;
	migref_init_config(mdev_state->config);
	mutex_unlock(&mdev_state->state_lock);
}

static long migref_ioctl(struct vfio_device *vdev, unsigned int cmd,
			 unsigned long arg)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = VFIO_PCI_NUM_IRQS;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_REGIONS)
			return -EINVAL;
		info.offset = MIGREF_REGION_OFFSET(info.index);
		info.cap_offset = 0;
		if (info.index == VFIO_PCI_CONFIG_REGION_INDEX) {
			info.size = MIGREF_CONFIG_SIZE;
			info.flags = VFIO_REGION_INFO_FLAG_READ |
				     VFIO_REGION_INFO_FLAG_WRITE;
		} else {
			info.size = 0;
			info.flags = 0;
		}
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info info;

		minsz = offsetofend(struct vfio_irq_info, count);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
			return -EINVAL;
		info.flags = 0;
		info.count = 0;	/* no interrupt of any kind */
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		struct vfio_irq_set set;

		minsz = offsetofend(struct vfio_irq_set, count);
		if (copy_from_user(&set, uarg, minsz))
			return -EFAULT;
		/* Only "disable" (count 0) of an interrupt it never had. */
		if (set.argsz < minsz || set.index >= VFIO_PCI_NUM_IRQS ||
		    set.count)
			return -EINVAL;
		return 0;
	}
	case VFIO_DEVICE_RESET:
		migref_reset(mdev_state);
		return 0;
	}
	return -ENOTTY;
}

static int migref_open_device(struct vfio_device *vdev)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);

	mutex_lock(&migref_parent.devices_lock);
	mdev_state->in_use = true;
	mutex_unlock(&migref_parent.devices_lock);
	return 0;
}

static void migref_close_device(struct vfio_device *vdev)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);

	migref_reset(mdev_state);
	mutex_lock(&migref_parent.devices_lock);
	mdev_state->in_use = false;
	mutex_unlock(&migref_parent.devices_lock);
}

static int migref_log_start(struct vfio_device *vdev,
			    struct rb_root_cached *ranges, u32 nnodes,
			    u64 *page_size)
{
	return 0;
}

static int migref_log_stop(struct vfio_device *vdev)
{
	return 0;
}

/* The function never writes guest memory: nothing is ever dirty. */
static int migref_log_read_and_clear(struct vfio_device *vdev,
				     unsigned long iova, unsigned long length,
				     struct iova_bitmap *dirty)
{
	return 0;
}

static const struct vfio_log_ops migref_log_ops = {
	.log_start = migref_log_start,
	.log_stop = migref_log_stop,
	.log_read_and_clear = migref_log_read_and_clear,
};

static int migref_init_dev(struct vfio_device *vdev)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);

	mdev_state->type = container_of(mdev->type, struct migref_type, type);
	INIT_LIST_HEAD(&mdev_state->next);
	mutex_init(&mdev_state->state_lock);
	mdev_state->mig_state = VFIO_DEVICE_STATE_RUNNING;
	migref_init_config(mdev_state->config);
	if (mdev_state->type->migratable) {
		vdev->migration_flags = VFIO_MIGRATION_STOP_COPY |
					VFIO_MIGRATION_P2P;
		vdev->mig_ops = &migref_migration_ops;
		vdev->log_ops = &migref_log_ops;
	}
	return 0;
}

static void migref_release_dev(struct vfio_device *vdev)
{
	struct migref_device *mdev_state =
		container_of(vdev, struct migref_device, vdev);

	mutex_destroy(&mdev_state->state_lock);
}

static const struct vfio_device_ops migref_dev_ops = {
	.name = "vfio-migref",
	.init = migref_init_dev,
	.release = migref_release_dev,
	.open_device = migref_open_device,
	.close_device = migref_close_device,
	.read = migref_read,
	.write = migref_write,
	.ioctl = migref_ioctl,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/* --- mdev driver ---------------------------------------------------------- */

static int migref_probe(struct mdev_device *mdev)
{
	struct migref_type *type =
		container_of(mdev->type, struct migref_type, type);
	struct migref_device *mdev_state;
	int ret;

	mdev_state = vfio_alloc_device(migref_device, vdev, &mdev->dev,
				       &migref_dev_ops);
	if (IS_ERR(mdev_state))
		return PTR_ERR(mdev_state);

	mutex_lock(&migref_parent.devices_lock);
	if (migref_parent.units_left < type->units) {
		mutex_unlock(&migref_parent.devices_lock);
		ret = -ENOSPC;
		goto err_put;
	}
	migref_parent.units_left -= type->units;
	list_add_tail(&mdev_state->next, &migref_parent.devices);
	mutex_unlock(&migref_parent.devices_lock);

	dev_set_drvdata(&mdev->dev, mdev_state);
	ret = vfio_register_emulated_iommu_dev(&mdev_state->vdev);
	if (ret)
		goto err_units;
	return 0;

err_units:
	mutex_lock(&migref_parent.devices_lock);
	list_del(&mdev_state->next);
	migref_parent.units_left += type->units;
	mutex_unlock(&migref_parent.devices_lock);
err_put:
	vfio_put_device(&mdev_state->vdev);
	return ret;
}

static void migref_remove(struct mdev_device *mdev)
{
	struct migref_device *mdev_state = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&mdev_state->vdev);
	mutex_lock(&migref_parent.devices_lock);
	list_del(&mdev_state->next);
	migref_parent.units_left += mdev_state->type->units;
	mutex_unlock(&migref_parent.devices_lock);
	vfio_put_device(&mdev_state->vdev);
}

static unsigned int migref_get_available(struct mdev_type *mtype)
{
	struct migref_type *type = container_of(mtype, struct migref_type, type);
	unsigned int units;

	mutex_lock(&migref_parent.devices_lock);
	units = migref_parent.units_left;
	mutex_unlock(&migref_parent.devices_lock);
	return units / type->units;
}

static ssize_t migref_show_description(struct mdev_type *mtype, char *buf)
{
	struct migref_type *type = container_of(mtype, struct migref_type, type);

	return sysfs_emit(buf, "%u of %u units, %s\n", type->units,
			  MIGREF_POOL_UNITS,
			  type->migratable ? "migratable" : "not migratable");
}

static struct mdev_driver migref_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = MIGREF_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = device_groups,
	},
	.probe = migref_probe,
	.remove = migref_remove,
	.get_available = migref_get_available,
	.show_description = migref_show_description,
};

/* --- module --------------------------------------------------------------- */

static void migref_parent_release(struct device *dev)
{
}

static void migref_remove_type_files(unsigned int count)
{
	while (count--)
		if (migref_types[count].migratable)
			sysfs_remove_bin_file(&migref_types[count].type.kobj,
					      &type_version_attr);
}

static int migref_add_type_files(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(migref_types); i++) {
		if (!migref_types[i].migratable)
			continue;
		ret = sysfs_create_bin_file(&migref_types[i].type.kobj,
					    &type_version_attr);
		if (ret) {
			migref_remove_type_files(i);
			return ret;
		}
	}
	return 0;
}

static int __init migref_init(void)
{
	int ret;

	ret = migref_parse_params();
	if (ret)
		return ret;
	mutex_init(&migref_parent.devices_lock);
	migref_parent.units_left = MIGREF_POOL_UNITS;
	INIT_LIST_HEAD(&migref_parent.devices);

	ret = mdev_register_driver(&migref_driver);
	if (ret)
		return ret;
	migref_parent.class = class_create(MIGREF_NAME);
	if (IS_ERR(migref_parent.class)) {
		ret = PTR_ERR(migref_parent.class);
		goto err_driver;
	}
	migref_parent.dev.class = migref_parent.class;
	migref_parent.dev.release = migref_parent_release;
	migref_parent.dev.groups = parent_groups;
	dev_set_name(&migref_parent.dev, "%s", MIGREF_NAME);
	ret = device_register(&migref_parent.dev);
	if (ret)
		goto err_put;
	ret = mdev_register_parent(&migref_parent.parent, &migref_parent.dev,
				   &migref_driver, migref_mdev_types,
				   ARRAY_SIZE(migref_mdev_types));
	if (ret)
		goto err_device;
	ret = migref_add_type_files();
	if (ret)
		goto err_parent;
	pr_info(MIGREF_NAME ": driver version %u.%u loaded\n",
		own_version.major, own_version.minor);
	return 0;

err_parent:
	mdev_unregister_parent(&migref_parent.parent);
err_device:
	device_del(&migref_parent.dev);
err_put:
	put_device(&migref_parent.dev);
	class_destroy(migref_parent.class);
err_driver:
	mdev_unregister_driver(&migref_driver);
	return ret;
}

static void __exit migref_exit(void)
{
	migref_remove_type_files(ARRAY_SIZE(migref_types));
	mdev_unregister_parent(&migref_parent.parent);
	device_unregister(&migref_parent.dev);
	class_destroy(migref_parent.class);
	mdev_unregister_driver(&migref_driver);
	migref_open_release_all();
}

module_init(migref_init);
module_exit(migref_exit);

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("Reference mdev driver for the proposed migration_version interface");
