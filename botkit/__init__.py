"""botkit: AI chatbots on Tencent Cloud Chat."""
