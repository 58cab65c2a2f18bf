"""Everything that talks to EC2, through boto3: regions, zones and spot price history."""
