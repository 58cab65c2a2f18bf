"""An EC2-compatible HTTP endpoint that serves recorded real spot prices to boto3.

Point a client at it with `endpoint_url=`; the region comes from the request's signature.
"""
