package etcdstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// The webhook queue: P webhooks/seq holds the last ID (decimal), and
// P webhooks/queue/%020d each delivery (JSON model.QueuedWebhook), so
// that keys sort as IDs do. A claim is a write compared against the
// delivery's ModRevision: of two replicas claiming at once, one wins.
func (k keys) webhookSeq() string         { return k.prefix + "webhooks/seq" }
func (k keys) webhookQueuePrefix() string { return k.prefix + "webhooks/queue/" }
func (k keys) webhook(id uint64) string   { return auditKey(k.webhookQueuePrefix(), id) }

// maxWebhookClaim bounds one claim's writes within etcd's default of 128
// operations per transaction.
const maxWebhookClaim = 100

// EnqueueWebhooks implements model.Store: the sequence and the items in
// one Txn, retried when another process enqueued first.
func (s *Store) EnqueueWebhooks(items []model.QueuedWebhook) error {
	const op = "queueing webhooks"
	if len(items) == 0 {
		return nil
	}
	if len(items) >= maxWebhookClaim {
		return fmt.Errorf("%s: %d at once, at most %d", op, len(items), maxWebhookClaim-1)
	}
	return retry(op, func() (bool, error) {
		resp, err := s.get(op, s.k.webhookSeq())
		if err != nil {
			return false, err
		}
		var last uint64
		var rev int64
		if len(resp.Kvs) > 0 {
			rev = resp.Kvs[0].ModRevision
			if last, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return false, model.Unavailable(op, err)
			}
		}
		ops := make([]clientv3.Op, 0, len(items)+1)
		for _, it := range items {
			last++
			it.ID = last
			ops = append(ops, clientv3.OpPut(s.k.webhook(it.ID), mustJSON(it)))
		}
		ops = append(ops, clientv3.OpPut(s.k.webhookSeq(), strconv.FormatUint(last, 10)))
		tr, err := s.txn(op, []clientv3.Cmp{unchanged(s.k.webhookSeq(), rev)}, ops, nil)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
}

// queued reads the whole queue, oldest first, with each key's revision.
func (s *Store) queued(op string) ([]model.QueuedWebhook, []*mvccpb.KeyValue, error) {
	kvs, _, err := s.getAll(op, s.k.webhookQueuePrefix(), 0)
	if err != nil {
		return nil, nil, err
	}
	items := make([]model.QueuedWebhook, len(kvs))
	for i, kv := range kvs {
		if err := json.Unmarshal(kv.Value, &items[i]); err != nil {
			return nil, nil, model.Unavailable(op, err)
		}
	}
	return items, kvs, nil
}

// ClaimWebhooks implements model.Store: the claims of one pass in one Txn
// that compares every claimed key, retried when another replica wrote one.
func (s *Store) ClaimWebhooks(owner string, now time.Time, lease time.Duration, limit int, busy model.WebhookBusy) ([]model.QueuedWebhook, error) {
	const op = "claiming webhooks"
	limit = min(limit, maxWebhookClaim)
	var claimed []model.QueuedWebhook
	err := retry(op, func() (bool, error) {
		claimed = nil
		items, kvs, err := s.queued(op)
		if err != nil {
			return false, err
		}
		heads := model.NewWebhookHeads(busy)
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for i, it := range items {
			if len(claimed) >= limit {
				break
			}
			if !heads.Claimable(it, owner, now) {
				continue
			}
			it.ClaimedBy, it.ClaimedUntil = owner, now.Add(lease)
			key := string(kvs[i].Key)
			cmps = append(cmps, unchanged(key, kvs[i].ModRevision))
			ops = append(ops, clientv3.OpPut(key, mustJSON(it)))
			claimed = append(claimed, it)
		}
		if len(ops) == 0 {
			return true, nil
		}
		tr, err := s.txn(op, cmps, ops, nil)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
	return claimed, err
}

// AckWebhook implements model.Store.
func (s *Store) AckWebhook(id uint64, owner string) error {
	return s.changeOwnedWebhook("acknowledging webhook", id, owner, nil,
		func(key string, _ model.QueuedWebhook) clientv3.Op { return clientv3.OpDelete(key) })
}

// RescheduleWebhook implements model.Store.
func (s *Store) RescheduleWebhook(id uint64, owner string, next time.Time) error {
	return s.changeOwnedWebhook("rescheduling webhook", id, owner, model.ErrNotFound,
		func(key string, it model.QueuedWebhook) clientv3.Op {
			it.Attempts++
			it.NextTry, it.ClaimedBy, it.ClaimedUntil = next, "", time.Time{}
			return clientv3.OpPut(key, mustJSON(it))
		})
}

// changeOwnedWebhook writes change's operation on delivery id, compared
// against the revision at which owner was seen holding it: ErrNotFound
// if another owner holds it, missing if it is gone.
func (s *Store) changeOwnedWebhook(op string, id uint64, owner string, missing error,
	change func(key string, it model.QueuedWebhook) clientv3.Op) error {
	key := s.k.webhook(id)
	return retry(op, func() (bool, error) {
		resp, err := s.get(op, key)
		if err != nil {
			return false, err
		}
		if len(resp.Kvs) == 0 {
			return missing == nil, missing
		}
		var it model.QueuedWebhook
		if err := json.Unmarshal(resp.Kvs[0].Value, &it); err != nil {
			return false, model.Unavailable(op, err)
		}
		if it.ClaimedBy != owner {
			return false, model.ErrNotFound
		}
		tr, err := s.txn(op, []clientv3.Cmp{unchanged(key, resp.Kvs[0].ModRevision)},
			[]clientv3.Op{change(key, it)}, nil)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
}

// DropWebhooks implements model.Store, in transactions of at most
// maxWebhookClaim deletions.
func (s *Store) DropWebhooks(before time.Time) (map[string]int, error) {
	const op = "dropping old webhooks"
	items, _, err := s.queued(op)
	if err != nil {
		return nil, err
	}
	dropped := map[string]int{}
	var ops []clientv3.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := s.txn(op, nil, ops, nil)
		ops = ops[:0]
		return err
	}
	for _, it := range items {
		if !it.EnqueuedAt.Before(before) {
			continue
		}
		ops = append(ops, clientv3.OpDelete(s.k.webhook(it.ID)))
		dropped[it.Hook]++
		if len(ops) == maxWebhookClaim {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return dropped, flush()
}

// WebhookQueueDepth implements model.Store.
func (s *Store) WebhookQueueDepth() (map[string]int, error) {
	items, _, err := s.queued("counting webhooks")
	if err != nil {
		return nil, err
	}
	depth := map[string]int{}
	for _, it := range items {
		depth[it.Hook]++
	}
	return depth, nil
}
