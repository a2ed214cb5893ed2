"""Drive every custom-resource function mlz writes through CloudFormation's request types,
with stubbed AWS clients: Create, Update, Delete, and Delete after a failed Create.

Usage: custom_resources_test.py DIR...   (output folders, such as fixtures/*/expected)

The code is read from the templates themselves (each AWS::Lambda::Function's ZipFile), so
what is tested is what deploys. Each function is known by what it calls; a function of no
known kind fails the run, so a new custom resource needs its cases here. What every case
checks, besides its own assertions: exactly one response is sent (a missing one hangs the
stack for an hour), and the physical id is stable (an Update that returns another id makes
CloudFormation replace the resource and delete the old one).
"""
import glob
import os
import sys
import time
import types
import unittest

import yaml


class ClientError(Exception):
    """botocore's ClientError, as the handlers read it: `response["Error"]["Code"]`."""

    def __init__(self, code, message="stubbed"):
        super().__init__(f"An error occurred ({code}): {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


class Aws:
    """The stubbed AWS: operations answer from `answers` (a value, an exception to raise, or a
    function of the call's arguments); every call is recorded."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def client(self, service, region_name=None, **_):
        aws = self

        class Client:
            def __getattr__(self, op):
                def call(**kw):
                    aws.calls.append((service, op, region_name, kw))
                    answer = aws.answers.get((service, op), {})
                    if callable(answer):
                        answer = answer(**kw)
                    if isinstance(answer, Exception):
                        raise answer
                    return answer

                return call

            def get_paginator(self, op):
                return types.SimpleNamespace(paginate=lambda **kw: [getattr(self, op)(**kw)])

        return Client()


class Context:
    log_stream_name = "2026/12/03/[$LATEST]stream"

    def get_remaining_time_in_millis(self):
        return 300_000


def run(code, event, answers):
    """Runs the handler once; returns (responses, calls)."""
    aws = Aws(answers)
    sent = []
    cfnresponse = types.ModuleType("cfnresponse")
    cfnresponse.SUCCESS, cfnresponse.FAILED = "SUCCESS", "FAILED"

    def send(event, context, status, data, physical=None, noEcho=False, reason=None):
        sent.append({"status": status, "data": data, "physical": physical, "reason": reason})

    cfnresponse.send = send
    boto3 = types.ModuleType("boto3")
    boto3.client = aws.client
    botocore = types.ModuleType("botocore")
    botocore_config = types.ModuleType("botocore.config")
    botocore_config.Config = lambda **kw: kw
    botocore.config = botocore_config
    names = ("boto3", "cfnresponse", "botocore", "botocore.config")
    saved = {k: sys.modules.get(k) for k in names}
    sys.modules.update({"boto3": boto3, "cfnresponse": cfnresponse, "botocore": botocore, "botocore.config": botocore_config})
    # A clock that sleeping moves on: waits and deadlines run in no real time.
    clock = {"now": 1_000_000.0}

    def sleep_(seconds):
        clock["now"] += seconds

    sleep, now = time.sleep, time.time
    time.sleep, time.time = sleep_, lambda: clock["now"]
    os.environ.setdefault("AWS_REGION", "eu-west-1")
    try:
        scope = {"__name__": "index"}
        exec(compile(code, "index.py", "exec"), scope)
        scope["handler"](event, Context())
    finally:
        time.sleep, time.time = sleep, now
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return sent, aws.calls


def event(kind, props, physical=None, old=None):
    e = {"RequestType": kind, "ResourceProperties": {"ServiceToken": "arn", **props},
         "StackId": "stack", "RequestId": "req", "LogicalResourceId": "R", "ResponseURL": "https://x"}
    if physical is not None:
        e["PhysicalResourceId"] = physical
    if old is not None:
        e["OldResourceProperties"] = {"ServiceToken": "arn", **old}
    return e


def functions(dirs):
    """Every distinct ZipFile code of the templates under dirs, with one place it is in."""
    found = {}
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "**", "*.yaml"), recursive=True)):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if "ZipFile" not in text:
                continue
            doc = yaml.safe_load(text)
            for lid, r in (doc.get("Resources") or {}).items():
                if r.get("Type") == "AWS::Lambda::Function":
                    code = r["Properties"].get("Code", {}).get("ZipFile")
                    if isinstance(code, str):
                        found.setdefault(code, f"{path} {lid}")
    return found


KINDS = {
    "organization-share": "create_portfolio_share",
    "account-factory-lookup": "describe_product_as_admin",
    "account-tagger": "org.tag_resource",
    "account-id-lookup": '"list_accounts"',
    "attachment-lookup": "describe_transit_gateway_attachments",
    "account-defaults": "enable_ebs_encryption_by_default",
}


def kind_of(code):
    kinds = [k for k, mark in KINDS.items() if mark in code]
    return kinds[0] if len(kinds) == 1 else None


class Cases(unittest.TestCase):
    codes = {}

    def code(self, kind):
        self.assertIn(kind, self.codes, f"no {kind} function in the output")
        return self.codes[kind]

    def one(self, sent, status):
        self.assertEqual(len(sent), 1, f"expected one response, got {sent}")
        self.assertEqual(sent[0]["status"], status, sent[0])
        return sent[0]

    # The Organizations share of a portfolio with an OU (Service Catalog).
    SHARE = {"PortfolioId": "port-1", "OrganizationalUnitId": "ou-a"}
    DONE = {("servicecatalog", "describe_portfolio_share_status"): {"Status": "COMPLETED"},
            ("servicecatalog", "create_portfolio_share"): {"PortfolioShareToken": "t1"},
            ("servicecatalog", "update_portfolio_share"): {"PortfolioShareToken": "t2"},
            ("servicecatalog", "delete_portfolio_share"): {"PortfolioShareToken": "t3"}}

    def test_share_create_waits_and_names_the_share(self):
        sent, calls = run(self.code("organization-share"), event("Create", self.SHARE), self.DONE)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "port-1/ou-a")
        ops = [c[1] for c in calls]
        self.assertEqual(ops, ["describe_portfolio_shares", "create_portfolio_share", "describe_portfolio_share_status"])

    def test_share_create_of_an_existing_share_makes_its_settings_ours(self):
        answers = {**self.DONE, ("servicecatalog", "describe_portfolio_shares"): {
            "PortfolioShareDetails": [{"PrincipalId": "ou-a", "Type": "ORGANIZATIONAL_UNIT"}]}}
        sent, calls = run(self.code("organization-share"), event("Create", self.SHARE), answers)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "port-1/ou-a")
        self.assertIn("update_portfolio_share", [c[1] for c in calls])
        self.assertNotIn("create_portfolio_share", [c[1] for c in calls])

    def test_share_retries_while_another_share_operation_runs(self):
        tries = iter([ClientError("InvalidStateException"), ClientError("InvalidStateException"), {"PortfolioShareToken": "t1"}])
        answers = {**self.DONE, ("servicecatalog", "create_portfolio_share"): lambda **_: next(tries)}
        sent, calls = run(self.code("organization-share"), event("Create", self.SHARE), answers)
        self.one(sent, "SUCCESS")
        self.assertEqual([c[1] for c in calls].count("create_portfolio_share"), 3)

    def test_share_errors_are_in_the_reason(self):
        answers = {**self.DONE, ("servicecatalog", "describe_portfolio_share_status"): {
            "Status": "COMPLETED_WITH_ERRORS",
            "ShareDetails": {"ShareErrors": [{"Accounts": ["111122223333"], "Message": "no launch role", "Error": "InvalidState"}]}}}
        sent, _ = run(self.code("organization-share"), event("Create", self.SHARE), answers)
        self.assertIn("111122223333", self.one(sent, "FAILED")["reason"])

    def test_share_create_that_fails_leaves_nothing_for_delete(self):
        answers = {**self.DONE, ("servicecatalog", "create_portfolio_share"): ClientError("InvalidParametersException")}
        sent, _ = run(self.code("organization-share"), event("Create", self.SHARE), answers)
        physical = self.one(sent, "FAILED")["physical"]
        sent, calls = run(self.code("organization-share"), event("Delete", self.SHARE, physical), self.DONE)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], physical)
        self.assertEqual(calls, [], "nothing was shared, so nothing is unshared")

    def test_share_create_whose_share_errs_is_undone_by_delete(self):
        answers = {**self.DONE, ("servicecatalog", "describe_portfolio_share_status"): {"Status": "ERROR"}}
        sent, _ = run(self.code("organization-share"), event("Create", self.SHARE), answers)
        physical = self.one(sent, "FAILED")["physical"]
        self.assertEqual(physical, "port-1/ou-a", "the share exists: Delete must remove it")
        sent, calls = run(self.code("organization-share"), event("Delete", self.SHARE, physical), self.DONE)
        self.one(sent, "SUCCESS")
        self.assertEqual([c[1] for c in calls], ["delete_portfolio_share", "describe_portfolio_share_status"])

    def test_share_update_of_the_same_share_keeps_it(self):
        sent, calls = run(self.code("organization-share"), event("Update", self.SHARE, "port-1/ou-a", self.SHARE), self.DONE)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "port-1/ou-a")
        self.assertEqual([c[1] for c in calls], ["update_portfolio_share", "describe_portfolio_share_status"])

    def test_share_update_to_another_ou_makes_a_new_share(self):
        new = {"PortfolioId": "port-1", "OrganizationalUnitId": "ou-b"}
        sent, calls = run(self.code("organization-share"), event("Update", new, "port-1/ou-a", self.SHARE), self.DONE)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "port-1/ou-b")
        create = [c for c in calls if c[1] == "create_portfolio_share"]
        self.assertEqual(len(create), 1)
        self.assertEqual(create[0][3]["OrganizationNode"]["Value"], "ou-b")

    def test_share_delete_waits_until_unshared(self):
        statuses = iter(["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"])
        answers = {**self.DONE, ("servicecatalog", "describe_portfolio_share_status"): lambda **_: {"Status": next(statuses)}}
        sent, calls = run(self.code("organization-share"), event("Delete", self.SHARE, "port-1/ou-a"), answers)
        self.one(sent, "SUCCESS")
        self.assertEqual([c[1] for c in calls].count("describe_portfolio_share_status"), 3)

    def test_share_delete_of_a_share_already_gone_succeeds(self):
        answers = {**self.DONE, ("servicecatalog", "delete_portfolio_share"): ClientError("ResourceNotFoundException")}
        sent, _ = run(self.code("organization-share"), event("Delete", self.SHARE, "port-1/ou-a"), answers)
        self.one(sent, "SUCCESS")

    def test_share_delete_that_aws_refuses_fails(self):
        answers = {**self.DONE, ("servicecatalog", "delete_portfolio_share"): ClientError("InvalidParametersException")}
        sent, _ = run(self.code("organization-share"), event("Delete", self.SHARE, "port-1/ou-a"), answers)
        self.one(sent, "FAILED")

    def test_share_busy_until_the_deadline_fails_in_time(self):
        answers = {**self.DONE, ("servicecatalog", "delete_portfolio_share"): ClientError("InvalidStateException")}
        sent, calls = run(self.code("organization-share"), event("Delete", self.SHARE, "port-1/ou-a"), answers)
        self.one(sent, "FAILED")
        tries = len(calls)
        self.assertTrue(2 < tries < 30, f"{tries} tries before the deadline")

    # The Account Factory lookup (Control Tower's product, artifact and portfolio ids).
    FACTORY = {"ProductName": "AWS Control Tower Account Factory"}
    FOUND = {
        ("servicecatalog", "describe_product_as_admin"): {
            "ProductViewDetail": {"ProductViewSummary": {"ProductId": "prod-1"}},
            "ProvisioningArtifactSummaries": [{"Id": "pa-old"}, {"Id": "pa-new"}],
        },
        ("servicecatalog", "describe_provisioning_artifact"): lambda **kw: {
            "ProvisioningArtifactDetail": {"Id": kw["ProvisioningArtifactId"], "Active": kw["ProvisioningArtifactId"] == "pa-new"}},
        ("servicecatalog", "list_portfolios_for_product"): {
            "PortfolioDetails": [{"Id": "port-x", "DisplayName": "other"},
                                 {"Id": "port-ct", "DisplayName": "AWS Control Tower Account Factory Portfolio"}]},
    }

    def test_factory_lookup_create_and_update_give_the_active_artifact(self):
        for kind, physical in (("Create", None), ("Update", "account-factory")):
            sent, _ = run(self.code("account-factory-lookup"), event(kind, self.FACTORY, physical), self.FOUND)
            r = self.one(sent, "SUCCESS")
            self.assertEqual(r["physical"], "account-factory")
            self.assertEqual(r["data"], {"ProductId": "prod-1", "ProvisioningArtifactId": "pa-new", "PortfolioId": "port-ct"})

    def test_factory_lookup_skips_an_artifact_being_removed_and_reads_every_page(self):
        pages = {None: {"PortfolioDetails": [{"Id": "port-x", "DisplayName": "other"}], "NextPageToken": "p2"},
                 "p2": {"PortfolioDetails": [{"Id": "port-ct", "DisplayName": "AWS Control Tower Account Factory Portfolio"}]}}
        answers = {**self.FOUND,
                   ("servicecatalog", "describe_provisioning_artifact"): lambda **kw: ClientError("ResourceNotFoundException")
                   if kw["ProvisioningArtifactId"] == "pa-old" else {"ProvisioningArtifactDetail": {"Id": "pa-new", "Active": True}},
                   ("servicecatalog", "list_portfolios_for_product"): lambda **kw: pages[kw.get("PageToken")]}
        sent, _ = run(self.code("account-factory-lookup"), event("Create", self.FACTORY), answers)
        r = self.one(sent, "SUCCESS")
        self.assertEqual((r["data"]["ProvisioningArtifactId"], r["data"]["PortfolioId"]), ("pa-new", "port-ct"))

    def test_factory_lookup_delete_after_failed_create_succeeds(self):
        answers = {("servicecatalog", "describe_product_as_admin"): ClientError("ResourceNotFoundException")}
        sent, _ = run(self.code("account-factory-lookup"), event("Create", self.FACTORY), answers)
        physical = self.one(sent, "FAILED")["physical"]
        sent, calls = run(self.code("account-factory-lookup"), event("Delete", self.FACTORY, physical), {})
        self.one(sent, "SUCCESS")
        self.assertEqual(calls, [])

    # The account tagger (Organizations tags of accounts).
    def test_tagger_create_update_delete(self):
        code = self.code("account-tagger")
        props = {"AccountId": "111122223333", "Tags": [{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "1"}]}
        sent, calls = run(code, event("Create", props), {})
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "tags-111122223333")
        self.assertEqual([c[1] for c in calls], ["tag_resource"])
        new = {"AccountId": "111122223333", "Tags": [{"Key": "team", "Value": "b"}]}
        sent, calls = run(code, event("Update", new, "tags-111122223333", props), {})
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "tags-111122223333")
        self.assertEqual(calls[0][1:], ("untag_resource", None, {"ResourceId": "111122223333", "TagKeys": ["cost"]}))
        sent, calls = run(code, event("Delete", new, "tags-111122223333"), {})
        self.one(sent, "SUCCESS")
        self.assertEqual(calls, [], "the account is retained, and so are its tags")

    def test_tagger_delete_after_failed_create_succeeds(self):
        code = self.code("account-tagger")
        props = {"AccountId": "111122223333", "Tags": [{"Key": "team", "Value": "a"}]}
        sent, _ = run(code, event("Create", props), {("organizations", "tag_resource"): ClientError("AccountNotFoundException")})
        physical = self.one(sent, "FAILED")["physical"]
        sent, _ = run(code, event("Delete", props, physical), {})
        self.one(sent, "SUCCESS")

    def test_tagger_without_an_account_answers(self):
        sent, _ = run(self.code("account-tagger"), event("Create", {}), {})
        self.one(sent, "FAILED")

    # The account id lookup (an existing account, by e-mail).
    def test_account_lookup(self):
        code = self.code("account-id-lookup")
        accounts = {("organizations", "list_accounts"): {"Accounts": [
            {"Id": "111122223333", "Email": "Team@Example.com", "State": "ACTIVE"},
            {"Id": "444455556666", "Email": "team@example.com", "State": "SUSPENDED"}]}}
        props = {"Email": "team@example.com"}
        for kind, physical in (("Create", None), ("Update", "111122223333")):
            sent, _ = run(code, event(kind, props, physical), accounts)
            r = self.one(sent, "SUCCESS")
            self.assertEqual((r["physical"], r["data"]), ("111122223333", {"Id": "111122223333"}))
        sent, _ = run(code, event("Create", {"Email": "none@example.com"}), accounts)
        physical = self.one(sent, "FAILED")["physical"]
        sent, calls = run(code, event("Delete", {"Email": "none@example.com"}, physical), accounts)
        self.one(sent, "SUCCESS")
        self.assertEqual(calls, [])

    # The Transit Gateway attachment lookup (the hub finds a spoke's attachment).
    def test_attachment_lookup(self):
        code = self.code("attachment-lookup")
        props = {"TransitGatewayId": "tgw-1", "AccountId": "111122223333"}
        states = iter(["pending", "available"])
        answers = {("ec2", "describe_transit_gateway_attachments"): lambda **_: {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-1", "State": next(states)}]}}
        sent, _ = run(code, event("Create", props), answers)
        r = self.one(sent, "SUCCESS")
        self.assertEqual((r["physical"], r["data"]), ("tgw-attach-1", {"Id": "tgw-attach-1"}))
        answers = {("ec2", "describe_transit_gateway_attachments"): {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-1", "State": "available"}]}}
        sent, _ = run(code, event("Update", props, "tgw-attach-1", props), answers)
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "tgw-attach-1")
        two = {("ec2", "describe_transit_gateway_attachments"): {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-1", "State": "available"},
            {"TransitGatewayAttachmentId": "tgw-attach-2", "State": "available"}]}}
        sent, _ = run(code, event("Create", props), two)
        physical = self.one(sent, "FAILED")["physical"]
        sent, calls = run(code, event("Delete", props, physical), two)
        self.one(sent, "SUCCESS")
        self.assertEqual(calls, [], "the attachment is the spoke's: nothing to undo")
        # A failed attachment fails the lookup at once, not after the wait.
        failed = {("ec2", "describe_transit_gateway_attachments"): lambda **kw: {"TransitGatewayAttachments": [
            {"TransitGatewayAttachmentId": "tgw-attach-9", "State": "failed"}] if "failed" in kw["Filters"][3]["Values"] else []}}
        sent, calls = run(code, event("Create", props), failed)
        self.assertIn("tgw-attach-9", self.one(sent, "FAILED")["reason"])
        self.assertLessEqual(len(calls), 2)
        sent, _ = run(code, event("Delete", {}, "tgw-attach-1"), {})
        self.one(sent, "SUCCESS")

    # The blueprints' account defaults (EBS encryption by default, account S3 Block Public Access).
    def test_account_defaults_cover_every_governed_region(self):
        code = self.code("account-defaults")
        props = {"AccountId": "111122223333", "Regions": ["eu-west-1", "eu-central-1", ""]}
        sent, calls = run(code, event("Create", props), {})
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "account-defaults-111122223333")
        ebs = sorted(c[2] for c in calls if c[1] == "enable_ebs_encryption_by_default")
        self.assertEqual(ebs, ["eu-central-1", "eu-west-1"])
        self.assertIn("put_public_access_block", [c[1] for c in calls])
        sent, _ = run(code, event("Update", props, "account-defaults-111122223333", props), {})
        self.assertEqual(self.one(sent, "SUCCESS")["physical"], "account-defaults-111122223333")

    def test_account_defaults_delete_after_failed_create_keeps_the_defaults(self):
        code = self.code("account-defaults")
        props = {"AccountId": "111122223333", "Regions": ["eu-west-1"]}
        sent, _ = run(code, event("Create", props), {("ec2", "enable_ebs_encryption_by_default"): ClientError("UnauthorizedOperation")})
        physical = self.one(sent, "FAILED")["physical"]
        sent, calls = run(code, event("Delete", props, physical), {})
        self.one(sent, "SUCCESS")
        self.assertEqual(calls, [], "removing the blueprint must not weaken the account")


def main():
    dirs = sys.argv[1:]
    found = functions(dirs)
    unknown = [where for code, where in found.items() if kind_of(code) is None]
    if unknown:
        print("custom resources of no known kind (add their cases to scripts/custom_resources_test.py):", file=sys.stderr)
        for where in unknown:
            print(f"  {where}", file=sys.stderr)
        return 1
    by_kind = {}
    for code in found:
        by_kind.setdefault(kind_of(code), []).append(code)
    failed = 0
    for kind, codes in sorted(by_kind.items()):
        # Each distinct version of a kind's code (a blueprint variant, say) runs every case.
        for code in codes:
            Cases.codes = {kind: code}
            names = [n for n in unittest.defaultTestLoader.getTestCaseNames(Cases) if kind_marker(n) == kind]
            suite = unittest.TestSuite(Cases(n) for n in names)
            result = unittest.TextTestRunner(stream=open(os.devnull, "w"), verbosity=0).run(suite)
            for test, trace in result.failures + result.errors:
                print(f"{kind} ({found[code]}): {test.id().split('.')[-1]}\n{trace}", file=sys.stderr)
            failed += len(result.failures) + len(result.errors)
            if not names:
                print(f"{kind}: no cases", file=sys.stderr)
                failed += 1
    missing = sorted(set(KINDS) - set(by_kind))
    for kind in missing:
        print(f"no {kind} function in {' '.join(dirs)}", file=sys.stderr)
    total = sum(len(v) for v in by_kind.values())
    if failed or missing:
        print(f"custom resources: {failed} failing cases", file=sys.stderr)
        return 1
    print(f"custom resources: {total} functions of {len(by_kind)} kinds, every request type handled", file=sys.stderr)
    return 0


PREFIXES = {
    "test_share_": "organization-share",
    "test_factory_lookup_": "account-factory-lookup",
    "test_tagger_": "account-tagger",
    "test_account_lookup": "account-id-lookup",
    "test_attachment_lookup": "attachment-lookup",
    "test_account_defaults_": "account-defaults",
}


def kind_marker(name):
    return next((k for p, k in PREFIXES.items() if name.startswith(p)), None)


if __name__ == "__main__":
    sys.exit(main())
