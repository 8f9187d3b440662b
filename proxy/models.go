package proxy

import (
	"time"

	"github.com/valyala/fasthttp"

	"switchboard/router"
	"switchboard/upstream/canon"
)

// modelList is the precomputed answer of GET /v1/models and of each
// GET /v1/models/{id}; the router is immutable, so these never change.
type modelList struct {
	all  []byte
	byID map[string][]byte
}

func newModelList(models []router.ModelInfo) *modelList {
	ml := &modelList{byID: make(map[string][]byte, len(models))}
	ml.all = append(ml.all, `{"object":"list","data":[`...)
	for i, m := range models {
		one := appendModel(nil, m)
		ml.byID[m.ID] = one
		if i > 0 {
			ml.all = append(ml.all, ',')
		}
		ml.all = append(ml.all, one...)
	}
	ml.all = append(ml.all, "]}"...)
	return ml
}

func appendModel(dst []byte, m router.ModelInfo) []byte {
	dst = append(dst, `{"id":`...)
	dst = canon.AppendString(dst, m.ID)
	dst = append(dst, `,"object":"model","created":0,"owned_by":`...)
	dst = canon.AppendString(dst, m.OwnedBy)
	return append(dst, '}')
}

// models serves GET /v1/models (id == "") and GET /v1/models/{id}.
func (s *Server) models(ctx *fasthttp.RequestCtx, id string) {
	if !ctx.IsGet() {
		writeError(ctx, errMethodNotAllowed)
		return
	}
	if _, err := s.keys.authenticate(&ctx.Request.Header, time.Now()); err != nil {
		writeError(ctx, err)
		return
	}
	body := s.modelList.all
	if id != "" {
		var ok bool
		if body, ok = s.modelList.byID[id]; !ok {
			writeError(ctx, errUnknownModelID)
			return
		}
	}
	ctx.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(body)
}
