"""Azure-style clients unchanged against Proviso: the official `AzureOpenAI`
client (deployment in the path, `api-version` in the query, `api-key`
header) for chat, streaming and embeddings; a deployment name maps to a
Proviso model by `azure_deployments`, else is taken as a model name; the
`/openai/v1/` routes are the OpenAI API. Every exchange is governed and
recorded as on `/v1/`."""

import json

import openai
import pytest

from conftest import Proviso

MODELS = """
[[models]]
name = "gpt-4o-mini"
azure_deployments = ["prod-chat"]
[[models.deployments]]
upstream = "fake"
"""


@pytest.fixture
def agw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=MODELS + "[batch]\npoll_interval_ms = 100\n")
    yield g
    g.stop()


@pytest.fixture
def azure(agw):
    return openai.AzureOpenAI(azure_endpoint=agw.url, api_key=agw.create_key("ml"),
                              api_version="2024-10-21", max_retries=0)


def test_azure_chat_maps_the_deployment_to_its_model(agw, azure, fake):
    raw = azure.chat.completions.with_raw_response.create(
        model="prod-chat", messages=[{"role": "user", "content": "ECHO: hello from azure"}])
    resp = raw.parse()
    assert resp.choices[0].message.content == "hello from azure"
    [rec] = agw.records()
    assert rec["id"] == raw.headers["x-proviso-record-id"]
    assert rec["model"] == "gpt-4o-mini", "the deployment named the model"
    assert json.loads(rec["request"])["model"] == "gpt-4o-mini"
    assert rec["status"] == 200 and rec["team"] == "ml"


def test_azure_streaming_and_embeddings(agw, azure):
    chunks = list(azure.chat.completions.create(
        model="prod-chat", stream=True, messages=[{"role": "user", "content": "ECHO: streamed"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed"
    emb = azure.embeddings.create(model="text-embedding-3-small", input=["one", "two"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) > 0
    recs = agw.records()
    assert [r["model"] for r in recs] == ["gpt-4o-mini", "text-embedding-3-small"], \
        "an unlisted deployment name is a model name"
    assert recs[0]["stream"] is True and recs[0]["output"] == "streamed"
    assert agw.verify().returncode == 0


def test_azure_errors_keep_the_openai_shape(agw, azure):
    with pytest.raises(openai.NotFoundError) as e:
        azure.chat.completions.create(model="no-such-deployment", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    bad = openai.AzureOpenAI(azure_endpoint=agw.url, api_key="sk-wrong", api_version="2024-10-21", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="prod-chat", messages=[{"role": "user", "content": "x"}])


def test_openai_v1_routes(agw):
    client = openai.OpenAI(base_url=agw.url + "/openai/v1", api_key=agw.create_key("ml"), max_retries=0)
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: v1"}])
    assert resp.choices[0].message.content == "v1"
    assert "gpt-4o-mini" in [m.id for m in client.models.list().data]
    [rec] = agw.records()
    assert rec["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("path,family", [
    ("/v1/images/generations", "Images"),
    ("/v1/audio/speech", "Audio"),
    ("/v1/uploads", "Uploads"),
    ("/v1/vector_stores", "Vector stores"),
    ("/v1/responses/resp_1/cancel", "Responses (cancel, compact, input token counts, deployment routes)"),
    ("/openai/deployments/prod-chat/responses", "Responses (cancel, compact, input token counts, deployment routes)"),
    ("/v1/fine_tuning/jobs", "Fine-tuning"),
    ("/openai/v1/assistants", "Assistants"),
    ("/openai/deployments/prod-chat/images/generations", "Images"),
])
def test_unsupported_parts_of_the_api_are_refused_by_name(agw, path, family):
    import httpx
    key = agw.create_key("ml")
    r = httpx.post(agw.url + path, headers={"Authorization": f"Bearer {key}"}, json={"model": "gpt-4o-mini"})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "unsupported_endpoint" and err["type"] == "invalid_request_error"
    assert f"the {family} API is not supported" in err["message"]
    assert agw.records() == [], "nothing was sent upstream"


def test_the_sdk_sees_unsupported_endpoints_as_not_found(agw):
    client = openai.OpenAI(base_url=agw.url + "/v1", api_key=agw.create_key("ml"), max_retries=0)
    with pytest.raises(openai.NotFoundError) as e:
        client.images.generate(model="dall-e-3", prompt="a lighthouse")
    assert e.value.body["code"] == "unsupported_endpoint"
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.list()


def test_azure_batches_through_azures_own_routes(agw, azure, fake):
    """The `AzureOpenAI` client's Batch API (`/openai/files`, `/openai/batches`,
    lines naming deployments and `/chat/completions`) works unchanged: the
    deployment maps to its model, every line is recorded."""
    import time
    lines = [json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/chat/completions",
                         "body": {"model": "prod-chat", "messages": [{"role": "user", "content": f"ECHO: azure batch {i}"}]}})
             for i in range(2)]
    f = azure.files.create(file=("in.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch")
    b = azure.batches.create(input_file_id=f.id, endpoint="/chat/completions", completion_window="24h")
    deadline = time.time() + 30
    while b.status not in ("completed", "failed", "cancelled", "expired") and time.time() < deadline:
        time.sleep(0.2)
        b = azure.batches.retrieve(b.id)
    assert b.status == "completed", b
    out = sorted((json.loads(l) for l in azure.files.content(b.output_file_id).text.splitlines()),
                 key=lambda o: o["custom_id"])
    assert [o["response"]["body"]["choices"][0]["message"]["content"] for o in out] == ["azure batch 0", "azure batch 1"]
    recs = [r for r in agw.records() if json.loads(r.get("detail") or "{}").get("batch", {}).get("id") == b.id]
    assert len(recs) == 2 and {r["model"] for r in recs} == {"gpt-4o-mini"}
