package mock

import "switchboard/upstream/canon"

// Models are the model ids the mock lists at GET /v1/models. It answers any
// model name, listed or not.
var Models = []string{"mock-model", "mock-embedding"}

// appendModels appends the OpenAI model list of Models.
func appendModels(dst []byte) []byte {
	dst = append(dst, `{"object":"list","data":[`...)
	for i, id := range Models {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = canon.AppendString(dst, id)
		dst = append(dst, `,"object":"model","created":`+created+`,"owned_by":"mock"}`...)
	}
	return append(dst, "]}"...)
}
