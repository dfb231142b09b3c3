from temporalio.client import Client


async def test_dev_server_answers(temporal_client: Client) -> None:
    result = await temporal_client.workflow_service.get_system_info(
        __import__("temporalio.api.workflowservice.v1", fromlist=["x"]).GetSystemInfoRequest()
    )
    assert result.server_version
